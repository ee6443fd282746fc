"""Red-team findings (issue 15): inputs and requests that abused the API. Each case failed once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.app.conftest import PASSWORD, ROOT, create_user
from tests.conftest import free_port


@asynccontextmanager
async def slamon_api(database_url: str, tmp_path, site: str = "api", **env_overrides: str):
    """`slamon api --site SITE` (what `slamon up` runs) as its own process on a free loopback port; yields
    its base URL."""
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_SECRET_KEY": "redteam-secret-0123456789-abcdef",
        "SLAMON_DATA_DIR": str(tmp_path),
        "SLAMON_POOL_MIN": "1",
        "SLAMON_POOL_MAX": "5",
        **env_overrides,
    }
    env.pop("FORWARDED_ALLOW_IPS", None)
    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "api", "--site", site, "--port", str(port)], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(600):
                try:
                    if (await http.get("/api/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("slamon api did not start")
        yield base
    finally:
        api.terminate()
        api.wait(timeout=20)


@pytest.mark.parametrize(
    "path, field",
    [
        ("/api/uptime/face-compare?startDate=9999-12-31", "startDate"),
        ("/api/uptime/face-compare?months=3&startDate=9999-10-01", "startDate"),
        ("/api/uptime/face-compare?months=24&startDate=0001-02-01", None),
        ("/api/uptime/face-compare?months=2&startDate=9999-10-01", None),
        ("/api/realtime/replay?since=18446744073709551616", "since"),
        ("/api/realtime/replay?since=0-18446744073709551616", "since"),
    ],
)
async def test_out_of_range_query_parameters_are_a_4xx_naming_the_parameter(staff, path, field):
    response = await staff.client.get(path)
    if field is None:  # the earliest representable months are fine
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in body["message"]
    assert [d["field"] for d in body["details"]] == [field]


async def test_replay_since_near_the_largest_stream_id(staff, settings):
    """With events in the stream (Redis checks the range then), ids up to 2^64-1 are answered and the
    very largest, after which no event can come, is a 422 rather than Redis's error."""
    from app.realtime.publisher import Publisher, channel_for

    publisher = Publisher(settings.redis_url, channel_for(settings))
    await publisher.publish("status-update", {"serviceId": "face-compare", "status": "up"}, ["system-status"])
    await publisher.close()
    for since in ("18446744073709551615", "18446744073709551615-18446744073709551614", "0-18446744073709551615"):
        response = await staff.client.get(f"/api/realtime/replay?since={since}")
        assert response.status_code == 200, (since, response.text)
    response = await staff.client.get("/api/realtime/replay?since=18446744073709551615-18446744073709551615")
    assert response.status_code == 422 and response.json()["details"][0]["field"] == "since"


async def test_the_first_months_of_year_one_are_refused_in_a_zone_ahead_of_utc(staff_db, make_app):
    _, client = make_app(timezone="Asia/Tokyo")
    response = await client().get("/api/uptime/face-compare?months=2&startDate=0001-01-01")
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "startDate"


async def test_a_rotated_x_forwarded_for_neither_escapes_the_login_throttle_nor_forges_audit_ips(
    staff_db, database_url, tmp_path
):
    """Without SLAMON_TRUSTED_PROXIES no client picks its own address: the per account+IP lock (5
    failures) holds while X-Forwarded-For changes on every attempt, and the audit trail records the peer."""
    await create_user(staff_db, "sec-victim", "viewer")
    async with slamon_api(database_url, tmp_path) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        statuses = []
        for attempt in range(6):
            response = await http.post(
                "/api/auth/login",
                json={"username": "sec-victim", "password": "wrong-guess"},
                headers={"X-Forwarded-For": f"203.0.113.{attempt + 1}"},
            )
            statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429]
    ips = {
        str(ip)
        for ip in await staff_db.fetchval(
            "SELECT array_agg(DISTINCT ip) FROM audit_log WHERE action LIKE 'auth.login%'"
        )
    }
    assert ips == {"127.0.0.1"}


async def test_a_configured_proxy_reports_the_client_address(staff_db, make_app):
    app, client = make_app(trusted_proxies=["10.9.0.0/16"])
    await create_user(staff_db, "alice", "viewer")
    via_proxy = client("10.9.0.7")
    response = await via_proxy.post(
        "/api/auth/login",
        json={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.23, 10.9.0.3"},
    )
    assert response.status_code == 200, response.text
    direct = client("192.0.2.50")  # not a proxy: its header is ignored
    response = await direct.post(
        "/api/auth/login",
        json={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert response.status_code == 200, response.text
    ips = [
        str(r["ip"]) for r in await staff_db.fetch("SELECT ip FROM audit_log WHERE action = 'auth.login' ORDER BY id")
    ]
    assert ips == ["198.51.100.23", "192.0.2.50"]


@pytest.mark.parametrize(
    "value, expected", [("", []), ("10.0.0.1", ["10.0.0.1"]), (" 10.0.0.0/8 , fd00::/8 ", ["10.0.0.0/8", "fd00::/8"])]
)
def test_trusted_proxies_setting_is_a_comma_separated_list(monkeypatch, value, expected):
    from app.config import Settings

    monkeypatch.setenv("SLAMON_TRUSTED_PROXIES", value)
    assert Settings().trusted_proxies == expected


def test_a_trusted_proxy_that_is_not_an_address_is_refused(monkeypatch):
    from pydantic import ValidationError

    from app.config import Settings

    monkeypatch.setenv("SLAMON_TRUSTED_PROXIES", "proxy.example")
    with pytest.raises(ValidationError, match="proxy.example"):
        Settings()


async def test_health_answers_while_32_logins_hash_and_the_excess_is_refused_at_once(staff_db, database_url, tmp_path):
    """bcrypt ran on the event loop: 32 failed logins froze the API (health 2 ms -> 3.9 s). Hashing now
    runs in a small pool; logins beyond it are refused with 503 + Retry-After before holding anything."""
    env = {"SLAMON_POOL_MAX": "12", "SLAMON_PASSWORD_HASH_WORKERS": "2", "SLAMON_PASSWORD_HASH_QUEUE": "4"}
    async with (
        slamon_api(database_url, tmp_path, **env) as base,
        httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=64)) as http,
    ):
        answered: list[httpx.Response] = []

        async def login(number: int) -> httpx.Response:
            # unknown accounts: each costs one bcrypt check at the server's cost (12) against its dummy hash
            response = await http.post(
                "/api/auth/login", json={"username": f"nobody-{number}", "password": "a wrong guess"}
            )
            answered.append(response)
            return response

        logins = [asyncio.create_task(login(n)) for n in range(32)]
        while not answered:
            await asyncio.sleep(0.01)
        health = await http.get("/api/health")
        answered_before_health = len(answered)
        results = await asyncio.gather(*logins)
    assert health.status_code == 200
    statuses = [r.status_code for r in results]
    assert set(statuses) <= {401, 503} and statuses.count(503) >= 1, statuses
    assert all(r.headers.get("retry-after") == "1" for r in results if r.status_code == 503)
    # the health check, sent once the first login answered, did not wait for the admitted ones to hash
    assert answered_before_health < len(results), statuses


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://status.example.com", "https://status.example.com/"),
        ("http://10.0.0.5:3003/slamon/", "http://10.0.0.5:3003/slamon/"),
    ],
)
def test_public_base_url_is_an_absolute_url_ending_in_a_slash(monkeypatch, value, expected):
    from app.config import Settings

    monkeypatch.setenv("SLAMON_PUBLIC_BASE_URL", value)
    assert Settings().public_base_url == expected


@pytest.mark.parametrize(
    "value", ["status.example.com", "/relative/", "ftp://status.example.com/", "https://status.example.com/?x=1"]
)
def test_a_public_base_url_that_is_not_absolute_http_is_refused(monkeypatch, value):
    from pydantic import ValidationError

    from app.config import Settings

    monkeypatch.setenv("SLAMON_PUBLIC_BASE_URL", value)
    with pytest.raises(ValidationError, match="public_base_url"):
        Settings()
