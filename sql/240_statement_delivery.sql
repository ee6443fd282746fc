-- Scheduled delivery of the customers' monthly statements (docs/operations.md, Statement delivery):
-- through the notifications outbox and delivery log (sql/040), like every other message.
--
-- Receivers: each contact of a customer is an email subscription owned by the statement delivery
-- (`statement_owner` = 'customer:<id>'), and the statements webhook (SLAMON_STATEMENT_WEBHOOK_URL) one owned by
-- 'statements'. They take only `statement.ready` events, which are recorded already dispatched with
-- their deliveries (the fan-out never sees them), so no other subscription ever gets a statement.
ALTER TABLE subscriptions ADD COLUMN statement_owner text CHECK (length(statement_owner) <= 100);
CREATE UNIQUE INDEX subscriptions_statement_receiver ON subscriptions (statement_owner, kind, coalesce(lower(email), url))
    WHERE statement_owner IS NOT NULL;

-- Files an event carries (the statement's PDF): email channels attach them, HTTP channels link them.
CREATE TABLE notification_attachments (
    event_id      bigint NOT NULL REFERENCES notification_events (id) ON DELETE CASCADE,
    position      integer NOT NULL,
    filename      text NOT NULL CHECK (length(filename) BETWEEN 1 AND 200),
    content_type  text NOT NULL CHECK (content_type ~ '^[a-z]+/[a-z0-9.+-]+$'),
    body          bytea NOT NULL,
    PRIMARY KEY (event_id, position)
);

-- One delivery run per customer and month: the event key `statement:<customer>:<YYYY-MM>` makes a
-- month's statement go out once; `slamon report deliver --again` records `...:again:<n>`. This table
-- says which revision went out and when, for the statement's own history.
CREATE TABLE statement_deliveries (
    customer_id  text NOT NULL,
    month        date NOT NULL CHECK (extract(day FROM month) = 1),
    event_key    text NOT NULL UNIQUE REFERENCES notification_events (event_key) ON DELETE CASCADE,
    revision     integer NOT NULL,
    recipients   integer NOT NULL,
    requested_by text NOT NULL CHECK (length(requested_by) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, month, event_key)
);
