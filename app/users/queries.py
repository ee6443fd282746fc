"""SQL of user accounts."""

_COLUMNS = "id, username, email, role, is_active, token_version, created_at, updated_at, last_login_at"

LIST = f"SELECT {_COLUMNS} FROM users ORDER BY username_key LIMIT $1 OFFSET $2"
COUNT = "SELECT count(*) FROM users"
GET = f"SELECT {_COLUMNS} FROM users WHERE id = $1"
GET_WITH_HASH = f"SELECT {_COLUMNS}, password_hash FROM users WHERE id = $1"
GET_FOR_UPDATE = f"SELECT {_COLUMNS}, password_hash FROM users WHERE id = $1 FOR UPDATE"
BY_NAME = f"SELECT {_COLUMNS} FROM users WHERE username_key = $1"

INSERT = f"""
INSERT INTO users (username, email, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}
"""

# $6: bump token_version (role, password or active flag changed).
UPDATE = f"""
UPDATE users SET email = $2, role = $3, is_active = $4, password_hash = coalesce($5, password_hash),
       token_version = token_version + CASE WHEN $6 THEN 1 ELSE 0 END, updated_at = now()
WHERE id = $1 RETURNING {_COLUMNS}
"""

DELETE = "DELETE FROM users WHERE id = $1 RETURNING username"

# Serialises admin changes so two admins cannot demote each other into having none.
LOCK_ADMINS = "SELECT id FROM users WHERE role = 'admin' AND is_active FOR UPDATE"
