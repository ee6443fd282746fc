"""Login, tokens, refresh rotation and reuse detection, logout, idle expiry, revocation on account
changes, and failed-login throttling — against the real app and database."""

from datetime import datetime, timedelta, timezone

import jwt
import pytest

from app.auth import throttle, tokens
from tests.app.conftest import PASSWORD


async def audit_actions(conn) -> list[str]:
    return [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY id")]


async def test_login_issues_a_24h_access_token_and_a_refresh_token(staff, settings):
    pair = await staff.login("reporter")
    claims = jwt.decode(
        pair["accessToken"],
        tokens.signing_key(settings.resolved_secret_key()),
        algorithms=["HS256"],
        audience="slamon-api",
    )
    assert claims["typ"] == "access" and claims["role"] == "reporter" and claims["tv"] == 1
    assert claims["sub"] == pair["user"]["id"] and claims["sid"]
    assert claims["exp"] - claims["iat"] == 24 * 3600 and claims["nbf"] == claims["iat"]
    assert pair["refreshToken"].startswith("rt_") and pair["refreshExpiresIn"] == 7 * 24 * 3600
    stored = await staff.conn.fetchval("SELECT token_hash FROM refresh_tokens")
    assert pair["refreshToken"].encode() not in stored  # only the sha256 is kept
    me = await staff.client.get("/api/auth/me", headers=await staff.headers("reporter"))
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "reporter" and "incidents:create" in me.json()["permissions"]
    assert "incidents:delete" not in me.json()["permissions"]
    assert await audit_actions(staff.conn) == ["auth.login"]


@pytest.mark.parametrize(
    "username,password",
    [("viewer", "wrong password"), ("nobody", PASSWORD), ("viewer", "x" * 200), ("VIEWER", "wrong")],
)
async def test_bad_credentials_are_401_and_audited(staff, username, password):
    await staff.user("viewer")
    r = await staff.client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.json()["message"] == "invalid username or password"
    assert await audit_actions(staff.conn) == ["auth.login_failed"]


async def test_refresh_rotates_and_reuse_revokes_the_family(staff):
    first = await staff.login("viewer")
    r = await staff.client.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refreshToken"] != first["refreshToken"]
    ok = await staff.client.get("/api/auth/me", headers={"Authorization": f"Bearer {second['accessToken']}"})
    assert ok.status_code == 200
    # The spent token comes back (stolen copy): the whole session dies, the legitimate new pair too.
    reuse = await staff.client.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert reuse.status_code == 401 and "revoked" in reuse.json()["message"]
    again = await staff.client.post("/api/auth/refresh", json={"refreshToken": second["refreshToken"]})
    assert again.status_code == 401
    me = await staff.client.get("/api/auth/me", headers={"Authorization": f"Bearer {second['accessToken']}"})
    assert me.status_code == 401 and me.json()["message"] == "session revoked"
    assert "auth.refresh_reuse" in await audit_actions(staff.conn)


async def test_logout_ends_access_and_refresh_tokens(staff):
    pair = await staff.login("reporter")
    headers = {"Authorization": f"Bearer {pair['accessToken']}"}
    assert (await staff.client.post("/api/auth/logout", headers=headers)).json() == {"success": True}
    assert (await staff.client.get("/api/auth/me", headers=headers)).status_code == 401
    r = await staff.client.post("/api/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    assert r.status_code == 401


async def test_idle_session_expires_after_two_hours(staff):
    pair = await staff.login("reporter")
    headers = {"Authorization": f"Bearer {pair['accessToken']}"}
    await staff.conn.execute("UPDATE sessions SET last_seen_at = now() - interval '119 minutes'")
    assert (await staff.client.get("/api/auth/me", headers=headers)).status_code == 200  # use renews it
    await staff.conn.execute("UPDATE sessions SET last_seen_at = now() - interval '121 minutes'")
    r = await staff.client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401 and r.json()["message"] == "session expired"
    r = await staff.client.post("/api/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    assert r.status_code == 401


async def test_last_seen_is_written_at_most_once_a_minute(staff):
    headers = await staff.headers("viewer")
    recent = datetime.now(timezone.utc) - timedelta(seconds=30)
    await staff.conn.execute("UPDATE sessions SET last_seen_at = $1", recent)
    await staff.client.get("/api/auth/me", headers=headers)
    assert await staff.conn.fetchval("SELECT last_seen_at FROM sessions") == recent
    stale = datetime.now(timezone.utc) - timedelta(minutes=5)
    await staff.conn.execute("UPDATE sessions SET last_seen_at = $1", stale)
    await staff.client.get("/api/auth/me", headers=headers)
    assert await staff.conn.fetchval("SELECT last_seen_at FROM sessions") > stale + timedelta(minutes=4)


@pytest.mark.parametrize("change", [{"role": "viewer"}, {"is_active": False}, {"password": "another password 1"}])
async def test_account_changes_invalidate_existing_tokens(staff, change):
    target = await staff.login("reporter", "alice")
    alice = {"Authorization": f"Bearer {target['accessToken']}"}
    admin = await staff.headers("admin")
    r = await staff.client.put(f"/api/users/{target['user']['id']}", json=change, headers=admin)
    assert r.status_code == 200, r.text
    me = await staff.client.get("/api/auth/me", headers=alice)
    assert me.status_code == 401
    r = await staff.client.post("/api/auth/refresh", json={"refreshToken": target["refreshToken"]})
    assert r.status_code == 401
    relogin = await staff.client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert relogin.status_code == (401 if change.keys() & {"is_active", "password"} else 200)


async def test_own_password_change_needs_the_current_one_and_ends_sessions(staff):
    headers = await staff.headers("viewer")
    r = await staff.client.post(
        "/api/auth/password", headers=headers, json={"current_password": "nope", "new_password": "new password 1"}
    )
    assert r.status_code == 403
    r = await staff.client.post(
        "/api/auth/password", headers=headers, json={"current_password": PASSWORD, "new_password": "new password 1"}
    )
    assert r.status_code == 200
    assert (await staff.client.get("/api/auth/me", headers=headers)).status_code == 401
    r = await staff.client.post("/api/auth/login", json={"username": "viewer", "password": "new password 1"})
    assert r.status_code == 200


@pytest.mark.parametrize(
    "kind,failures,expected",
    [
        ("pair", 4, 0),
        ("pair", 5, 30),
        ("pair", 6, 60),
        ("pair", 9, 480),
        ("pair", 10, 900),
        ("pair", 10_000, 900),
        ("account", 19, 0),
        ("account", 20, 30),
        ("account", 10_000, 300),
        ("ip", 50, 60),
        ("ip", 10_000, 900),
    ],
)
def test_backoff_is_exponential_and_capped(kind, failures, expected):
    assert throttle.lock_seconds(throttle.RULES[kind], failures) == expected


async def test_failed_logins_throttle_the_account_from_that_ip_only(staff_db, make_app):
    from tests.app.conftest import create_user

    await create_user(staff_db, "bob", "reporter")
    _, client = make_app()
    attacker, owner = client("203.0.113.7"), client("198.51.100.2")
    for _ in range(5):
        r = await attacker.post("/api/auth/login", json={"username": "bob", "password": "guess"})
        assert r.status_code == 401
    r = await attacker.post("/api/auth/login", json={"username": "bob", "password": PASSWORD})
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 30
    assert r.json()["error"] == "too_many_requests"
    r = await owner.post("/api/auth/login", json={"username": "bob", "password": PASSWORD})
    assert r.status_code == 200  # the owner, elsewhere, is not locked out
    assert await staff_db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.login_throttled'") == 1


async def test_many_ips_lock_the_account_briefly(staff_db, make_app):
    from tests.app.conftest import create_user

    await create_user(staff_db, "carol", "viewer")
    _, client = make_app()
    for i in range(20):
        await client(f"192.0.2.{i + 1}").post("/api/auth/login", json={"username": "carol", "password": "guess"})
    r = await client("192.0.2.200").post("/api/auth/login", json={"username": "carol", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) <= 300
    # After the lock passes, the right password works and clears the counters.
    await staff_db.execute("UPDATE login_throttle SET locked_until = now() - interval '1 second'")
    r = await client("192.0.2.200").post("/api/auth/login", json={"username": "carol", "password": PASSWORD})
    assert r.status_code == 200
    assert await staff_db.fetchval("SELECT count(*) FROM login_throttle WHERE key = 'account:carol'") == 0
