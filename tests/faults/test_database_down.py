"""The database stops under a real `slamon api --site status`: the API answers 503 with Retry-After
(never 500), liveness stays 200 while readiness turns 503 naming the database (or Redis), the status
page keeps serving its last good page labelled with its age, and everything is live again once the
database is back. An API started while the database is down starts, and serves once it is back."""

from __future__ import annotations

import aiohttp

from tests.conftest import free_port
from tests.faults.conftest import wait_for

STALE_LABEL = "live data unavailable"
ENGLISH = {"Accept-Language": "en"}
READS = ("/api/system-status", "/api/services", "/api/incidents", "/api/uptime/face-compare")


async def _get(session, url):
    async with session.get(url) as response:
        return response.status, response.headers, await response.text()


async def _answers(session, url, status) -> bool:
    try:
        return (await _get(session, url))[0] == status
    except (aiohttp.ClientError, TimeoutError):
        return False


async def test_api_and_status_page_with_the_database_down(stack):
    key = await stack.push_only_key()
    port = free_port()
    stack.slamon("api", "--site", "status", "--port", str(port), log_name="api")
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), headers=ENGLISH) as session:
        await wait_for(lambda: _answers(session, f"{base}/api/health/ready", 200), 60, "the API to be ready")
        status, _, page = await _get(session, f"{base}/")
        assert status == 200 and STALE_LABEL not in page

        stack.stop_postgres()
        for path in READS + ("/api/health",):
            status, headers, body = await _get(session, base + path)
            assert (path, status) == (path, 503), body
            assert headers["Retry-After"].isdigit() and '"service_unavailable"' in body
        async with session.post(
            f"{base}/api/ingest/checks",
            headers={"Authorization": f"Bearer {key}"},
            json=[{"ts": "2026-01-01T00:00:00Z", "ok": True}],
        ) as response:
            assert response.status == 503 and "Retry-After" in response.headers
        assert (await _get(session, f"{base}/api/health/live"))[0] == 200
        status, _, body = await _get(session, f"{base}/api/health/ready")
        assert status == 503 and "database" in body and '"redis","message":"ok"' in body.replace(" ", "")
        status, headers, page = await _get(session, f"{base}/")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert STALE_LABEL in page and "minutes ago" in page

        stack.up()
        await wait_for(lambda: _answers(session, f"{base}/api/system-status", 200), 60, "reads after the restart")
        status, _, page = await _get(session, f"{base}/")
        assert status == 200 and STALE_LABEL not in page
        assert (await _get(session, f"{base}/api/health/ready"))[0] == 200

        stack.stop_redis()
        status, _, body = await _get(session, f"{base}/api/health/ready")
        assert status == 503 and "redis" in body and '"database","message":"ok"' in body.replace(" ", "")
        assert (await _get(session, f"{base}/api/health/live"))[0] == 200


async def test_api_started_while_the_database_is_down(stack):
    stack.stop_postgres()
    port = free_port()
    api = stack.slamon("api", "--port", str(port), log_name="api")
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), headers=ENGLISH) as session:
        await wait_for(lambda: _answers(session, f"{base}/api/health/live", 200), 60, "liveness without a database")
        assert api.poll() is None
        assert (await _get(session, f"{base}/api/health/ready"))[0] == 503
        status, headers, _ = await _get(session, f"{base}/api/system-status")
        assert status == 503 and "Retry-After" in headers
        stack.up()
        await wait_for(lambda: _answers(session, f"{base}/api/system-status", 200), 60, "reads once the database is up")
        assert (await _get(session, f"{base}/api/health/ready"))[0] == 200
