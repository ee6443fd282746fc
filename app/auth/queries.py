"""SQL of logins, sessions, refresh tokens and login throttling."""

USER_BY_NAME = """
SELECT id, username, username_key, email, role, is_active, token_version, password_hash, created_at, last_login_at
FROM users WHERE username_key = $1
"""

CREATE_SESSION = """
INSERT INTO sessions (user_id, ip, user_agent) VALUES ($1, $2, $3) RETURNING id
"""

TOUCH_LOGIN = "UPDATE users SET last_login_at = now() WHERE id = $1"

INSERT_REFRESH = """
INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)
"""

# The principal behind an access token: user and session in one round trip.
PRINCIPAL = """
SELECT u.id, u.username, u.role, u.is_active, u.token_version,
       s.id AS session_id, s.revoked_at, s.last_seen_at
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = $1 AND u.id = $2
"""

TOUCH_SESSION = "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2"

REVOKE_SESSION = """
UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL
"""

REVOKE_USER_SESSIONS = """
UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL
RETURNING id
"""

REFRESH_FOR_UPDATE = """
SELECT r.token_hash, r.session_id, r.expires_at, r.used_at,
       s.revoked_at, s.last_seen_at, u.id AS user_id, u.username, u.role, u.is_active, u.token_version
FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id
WHERE r.token_hash = $1
FOR UPDATE OF r, s
"""

MARK_REFRESH_USED = "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1"

THROTTLE_LOCKED_UNTIL = """
SELECT max(locked_until) FROM login_throttle WHERE key = ANY($1::text[]) AND locked_until > $2
"""

# One failure more; a counter idle for longer than the window starts again at 1.
THROTTLE_FAIL = """
INSERT INTO login_throttle AS t (key, failures, last_failure_at) VALUES ($1, 1, $2)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN t.last_failure_at < $2 - $3::interval THEN 1 ELSE t.failures + 1 END,
    last_failure_at = $2
RETURNING failures
"""

THROTTLE_LOCK = "UPDATE login_throttle SET locked_until = $2 WHERE key = $1"

THROTTLE_CLEAR = "DELETE FROM login_throttle WHERE key = ANY($1::text[])"
