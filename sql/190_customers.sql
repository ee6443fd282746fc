-- Customers and their contracts (docs/sla-math.md, Customers): a tier of the SLA document, a monthly
-- fee in an ISO 4217 currency, the services the contract covers, a start date, and temporary target
-- relaxations ("dynamic SLA adjustment") that count only when announced to the customer at least the
-- notice period before they start (the same rule and setting as maintenance windows, sql/150:
-- SLAMON_MAINTENANCE_NOTICE_HOURS, default 72 h).
--
-- customers.toml (configuration as code) owns the customers it names (`managed_by = 'config'`); the
-- admin API owns those it created (`'api'`), like services.toml and the service catalog.
CREATE TABLE customers (
    id           text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,49}$'),
    name         text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    contacts     text[] NOT NULL DEFAULT '{}',
    tier         text NOT NULL CHECK (tier IN ('enterprise_plus', 'enterprise', 'professional', 'developer')),
    monthly_fee  numeric NOT NULL CHECK (monthly_fee >= 0),
    currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    starts_on    date NOT NULL,
    managed_by   text NOT NULL DEFAULT 'api' CHECK (managed_by IN ('config', 'api')),
    position     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A contract's services, in the contract's order. Services are archived, never deleted, by the
-- product; a service deleted by hand (tests restoring the catalog) leaves the contracts that named it.
CREATE TABLE customer_services (
    customer_id  text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    service_id   text NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    position     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, service_id)
);
CREATE INDEX customer_services_service ON customer_services (service_id);

-- A temporary relaxation of the contract's availability target over [starts_at, ends_at).
-- announced_at is when the customer was told (when it was recorded); `effective` is the notice rule's
-- decision, with its reason in words for statements.
CREATE TABLE customer_target_overrides (
    id                  bigserial PRIMARY KEY,
    customer_id         text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    availability        numeric NOT NULL CHECK (availability > 0 AND availability <= 100),
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    reason              text NOT NULL DEFAULT '' CHECK (length(reason) <= 2000),
    announced_at        timestamptz NOT NULL DEFAULT now(),
    effective           boolean NOT NULL,
    effectiveness_note  text NOT NULL DEFAULT '',
    CHECK (ends_at > starts_at)
);
CREATE INDEX customer_target_overrides_customer ON customer_target_overrides (customer_id, starts_at);

-- Monthly statements frozen at month close, like report_snapshots (sql/050): revision 1 by the close,
-- corrections append N+1 with a reason and an author; never updated nor deleted. No foreign key to
-- customers: a sent statement outlives the contract.
CREATE TABLE customer_statements (
    customer_id  text NOT NULL,
    month        date NOT NULL CHECK (extract(day FROM month) = 1),
    revision     integer NOT NULL CHECK (revision >= 1),
    timezone     text NOT NULL,
    figures      json NOT NULL CHECK (json_typeof(figures) = 'object'),
    reason       text NOT NULL DEFAULT '' CHECK (length(reason) <= 2000),
    author       text NOT NULL DEFAULT '' CHECK (length(author) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, month, revision),
    CHECK (revision = 1 OR length(btrim(reason)) > 0)
);

CREATE TRIGGER customer_statements_no_update_delete
    BEFORE UPDATE OR DELETE ON customer_statements
    FOR EACH ROW EXECUTE FUNCTION report_snapshots_immutable();
