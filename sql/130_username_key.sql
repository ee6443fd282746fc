-- Usernames are unique on one key, app.auth.usernames.username_key (NFKC + casefold). Logins looked
-- accounts up with PostgreSQL's lower() but throttled on Python's lower(): 'sec-vİctim' (U+0130) found
-- 'sec-victim' while escaping its lock. The users CHECK keeps stored names ASCII, where the key is exactly
-- lower(username), so the column is generated here and the app compares it with the key of what was typed.
-- Existing names cannot collide: the index this replaces was already unique on lower(username).
ALTER TABLE users ADD COLUMN username_key text GENERATED ALWAYS AS (lower(username)) STORED;
CREATE UNIQUE INDEX users_username_key ON users (username_key);
DROP INDEX users_username;
