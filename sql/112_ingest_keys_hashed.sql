-- Ingest keys become random secrets stored only as their SHA-256 hash (a leaked database or backup
-- yields no key), several per service so that a rotation can overlap, each revocable and audited.
-- Keys of before 112 were derived (HMAC of SLAMON_SECRET_KEY, service, version) and are not stored
-- anywhere, so they cannot be hashed here: they keep working, and each is adopted into this table
-- (as its hash, derived = true) the first time it is used; rotating or revoking a service's keys, or
-- archiving the service, ends them. README "Ingest keys" says so.
ALTER TABLE ingest_keys RENAME TO ingest_keys_derived;
ALTER TABLE ingest_keys_derived RENAME CONSTRAINT ingest_keys_pkey TO ingest_keys_derived_pkey;
ALTER TABLE ingest_keys_derived RENAME CONSTRAINT ingest_keys_service_id_fkey TO ingest_keys_derived_service_id_fkey;

CREATE TABLE ingest_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id  text NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    key_hash    bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    key_prefix  text NOT NULL,                 -- the key's first characters, to tell keys apart in listings
    derived     boolean NOT NULL DEFAULT false, -- a key of before 112, adopted on its first use
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT '',
    revoked_at  timestamptz,
    revoked_by  text
);
CREATE INDEX ingest_keys_active ON ingest_keys (service_id) WHERE revoked_at IS NULL;
