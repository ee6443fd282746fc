-- Users, login sessions and their refresh tokens, login throttling (PRD §6.3).
CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username       text NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$'),
    email          text CHECK (email IS NULL OR length(email) <= 254),
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('viewer', 'reporter', 'admin')),
    is_active      boolean NOT NULL DEFAULT true,
    -- Bumped by a role change, a password change or disabling: every token carrying an older one is refused.
    token_version  integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

-- One row per login: the refresh-token family. Revoking it ends every token it issued.
CREATE TABLE sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    revoked_reason  text,
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- Opaque refresh tokens, stored as sha256; a used one stays as a tombstone so its reuse is detected.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed-login counters per key ('pair:<user>|<ip>', 'account:<user>', 'ip:<ip>').
CREATE TABLE login_throttle (
    key              text PRIMARY KEY,
    failures         integer NOT NULL DEFAULT 0,
    last_failure_at  timestamptz NOT NULL,
    locked_until     timestamptz
);
