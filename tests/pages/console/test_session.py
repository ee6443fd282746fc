"""Signing in to the console: the API's sessions in HttpOnly cookies, CSRF on the console's own forms,
the 2 h idle logout, token rotation, sign-out, and where a sign-in may send the browser next."""

from datetime import datetime, timedelta, timezone

import pytest

from app.auth import tokens
from app.web.console.session import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from tests.app.conftest import PASSWORD
from tests.pages.console.conftest import CSRF_FIELD, ensure_user, sign_in


async def test_pages_need_a_session_and_come_back_after_sign_in(console_client, console_db):
    client = console_client()
    r = await client.get("/history?priority=P1")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fhistory%3Fpriority%3DP1"
    r = await sign_in(client, console_db, "viewer", next_url="/history?priority=P1")
    assert r.status_code == 303 and r.headers["location"] == "/history?priority=P1"
    cookies = r.headers.get_list("set-cookie")
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        cookie = next(c for c in cookies if c.startswith(name + "="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    page = await client.get("/history?priority=P1")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "viewer" in page.text
    assert await console_db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.login'") == 1


async def test_the_sign_in_page_is_korean_by_default_and_english_on_request(console_client, console_db):
    client = console_client()
    assert "로그인" in (await client.get("/login")).text
    english = await client.get("/login?lang=en")
    assert "Sign in" in english.text and '<html lang="en">' in english.text


async def test_wrong_password_is_refused_without_a_session(console_client, console_db):
    client = console_client()
    await ensure_user(console_db, "rita", "reporter")
    csrf = CSRF_FIELD.search((await client.get("/login")).text).group(1)
    r = await client.post("/login", data={"username": "rita", "password": "nope", "csrf": csrf, "next": "/"})
    assert r.status_code == 401 and 'role="alert"' in r.text and 'value="rita"' in r.text
    assert not any(c.startswith(ACCESS_COOKIE + "=") for c in r.headers.get_list("set-cookie"))
    assert await console_db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed'") == 1
    r = await client.post("/login", data={"username": "", "password": "", "csrf": csrf})
    assert r.status_code == 422 and 'role="alert"' in r.text


async def test_repeated_failures_are_throttled_like_the_api(console_client, console_db):
    client = console_client()
    await ensure_user(console_db, "rita", "reporter")
    csrf = CSRF_FIELD.search((await client.get("/login")).text).group(1)
    for _ in range(5):
        await client.post("/login", data={"username": "rita", "password": "nope", "csrf": csrf})
    r = await client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


@pytest.mark.parametrize("csrf, origin", [(None, None), ("forged", None), ("COOKIE", "https://evil.example")])
async def test_sign_in_without_this_browsers_csrf_token_is_refused(console_client, console_db, csrf, origin):
    client = console_client()
    await ensure_user(console_db, "rita", "reporter")
    token = CSRF_FIELD.search((await client.get("/login")).text).group(1)
    data = {"username": "rita", "password": PASSWORD}
    if csrf:
        data["csrf"] = token if csrf == "COOKIE" else csrf
    r = await client.post("/login", data=data, headers={"Origin": origin} if origin else {})
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    assert await console_db.fetchval("SELECT count(*) FROM sessions") == 0


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
async def test_sign_in_only_sends_the_browser_to_this_site(console_client, console_db, target):
    r = await sign_in(console_client(), console_db, "viewer", next_url=target)
    assert r.status_code == 303 and r.headers["location"] == "/"


async def test_two_hours_idle_signs_out(console_client, console_db):
    client = console_client()
    await sign_in(client, console_db, "reporter")
    assert (await client.get("/")).status_code == 200
    await console_db.execute("UPDATE sessions SET last_seen_at = now() - interval '2 hours 1 minute'")
    r = await client.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F&reason=idle"
    login = await client.get(r.headers["location"])
    assert "2시간" in login.text
    assert await console_db.fetchval("SELECT revoked_reason FROM sessions") == "idle"


async def test_an_expired_access_token_is_rotated_with_the_refresh_cookie(console_client, console_db, settings):
    client = console_client()
    await sign_in(client, console_db, "reporter")
    user_id, session_id = await console_db.fetchrow("SELECT user_id, id FROM sessions")
    stale = tokens.issue_access(
        settings.resolved_secret_key(),
        str(user_id),
        "reporter",
        str(session_id),
        1,
        datetime.now(timezone.utc) - timedelta(hours=25),
    )
    client.cookies.set(ACCESS_COOKIE, stale)
    r = await client.get("/")
    assert r.status_code == 200
    fresh = next(c for c in r.headers.get_list("set-cookie") if c.startswith(ACCESS_COOKIE + "="))
    assert stale not in fresh
    assert await console_db.fetchval("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL") == 1


async def test_sign_out_ends_the_session(console_client, console_db):
    client = console_client()
    await sign_in(client, console_db, "reporter")
    page = await client.get("/")
    csrf = CSRF_FIELD.search(page.text).group(1)
    assert (await client.post("/logout", data={"csrf": "wrong"})).status_code == 403
    r = await client.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login?reason=logged_out"
    assert await console_db.fetchval("SELECT revoked_reason FROM sessions") == "logout"
    assert (await client.get("/")).status_code == 303


async def test_a_revoked_session_cookie_is_not_accepted(console_client, console_db):
    client = console_client()
    await sign_in(client, console_db, "reporter")
    await console_db.execute("UPDATE users SET token_version = token_version + 1")
    r = await client.get("/")
    assert r.status_code == 303 and "reason=signed_out" in r.headers["location"]


async def test_malformed_forms_are_client_errors(console_client, console_db):
    client = console_client()
    await client.get("/login")
    assert client.cookies.get(CSRF_COOKIE)
    r = await client.post(
        "/login", content=b"\xff\xfe=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 422
    r = await client.post(
        "/login", content=b"a=" + b"x" * 5000, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 413
