"""GET /api/system-status and the status page, built once per change and served from memory
(app/status/cache.py): a strong ETag and 304 for If-None-Match, Cache-Control for shared caches,
every kind of write in the very next response of every replica (two apps, two caches, one database),
time alone within FRESH_S, and the bodies equal to a fresh build's."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app import deps
from app.incidents import queries as incident_queries
from app.ingest.service import CheckRow, write_checks
from app.main import create_app
from app.rollups import service as rollups
from app.status import cache, queries

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=timezone.utc)
SERVICE = "face-compare"


def slot(minutes_ago: int, ok: bool = True, service: str = SERVICE, now: datetime = NOW) -> CheckRow:
    return CheckRow(
        now - timedelta(minutes=minutes_ago),
        service,
        "seoul",
        ok,
        200 if ok else 503,
        200,
        None if ok else "http_error",
    )


@pytest.fixture
def replica(pool, settings):
    """Factory: an API process of its own (own app, own cache) on the test database, its clock in
    `clock["now"]`; yields an HTTP client on it."""
    clock = {"now": NOW}
    clients: list[httpx.AsyncClient] = []

    def make(site: str = "api") -> httpx.AsyncClient:
        app = create_app(settings, site=site)
        app.state.pool = pool
        app.dependency_overrides[deps.clock] = lambda: clock["now"]
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        client.app = app  # type: ignore[attr-defined]
        clients.append(client)
        return client

    make.clock = clock  # type: ignore[attr-defined]
    yield make


def _service(body: dict, service_id: str = SERVICE) -> dict:
    return next(s for s in body["services"] if s["id"] == service_id)


async def _incident(conn, priority: str = "P1", created: datetime = NOW - timedelta(minutes=5)) -> str:
    return await conn.fetchval(
        incident_queries.INSERT_AT, "Face Compare down", "", "investigating", "critical", priority, "ops", "",
        [SERVICE], None, created, None,
    )  # fmt: skip


async def test_an_etag_and_cache_control_then_304_for_the_same_body(conn, replica):
    await write_checks(conn, [slot(i) for i in range(5)], now=NOW)
    client = replica()
    first = await client.get("/api/system-status")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"] == cache.CACHE_CONTROL
    again = await client.get("/api/system-status", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == cache.CACHE_CONTROL
    for header in (f'"other", {etag}', f"W/{etag}", "*"):
        assert (await client.get("/api/system-status", headers={"If-None-Match": header})).status_code == 304
    other = await client.get("/api/system-status", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content
    # compressed once per build for clients that accept gzip (httpx does), another representation
    assert first.headers["content-encoding"] == "gzip" and first.headers["vary"] == "Accept-Encoding"
    plain = await client.get("/api/system-status", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == first.content
    assert plain.headers["etag"] == etag.removesuffix('-gz"') + '"'
    refused = await client.get("/api/system-status", headers={"Accept-Encoding": "gzip;q=0", "If-None-Match": etag})
    assert refused.status_code == 200 and "content-encoding" not in refused.headers
    assert client.app.state.status_caches["system-status"].builds == 1  # type: ignore[attr-defined]


async def test_every_kind_of_write_is_in_the_next_response_of_every_replica(conn, replica):
    await write_checks(conn, [slot(i) for i in range(3, 8)], now=NOW)
    one, two = replica(), replica()
    seen = [(await c.get("/api/system-status")).json() for c in (one, two)]
    assert [_service(b)["status"] for b in seen] == ["operational", "operational"]
    etag = (await two.get("/api/system-status")).headers["etag"]

    # new checks (what every prober flush is): the newest slot failed
    await write_checks(conn, [slot(2, ok=False)], now=NOW)
    for client in (one, two):
        assert _service((await client.get("/api/system-status")).json())["status"] == "degraded"
    assert (await two.get("/api/system-status", headers={"If-None-Match": etag})).status_code == 200

    # an incident opened, then resolved
    incident = await _incident(conn)
    for client in (two, one):
        assert _service((await client.get("/api/system-status")).json())["status"] == "outage"
    await conn.execute("UPDATE incidents SET status = 'resolved', resolved_at = $2 WHERE id = $1", incident, NOW)
    for client in (one, two):
        assert _service((await client.get("/api/system-status")).json())["status"] == "degraded"

    # a maintenance window over today's failed slot takes it out of the day's figures
    today_before = _service((await one.get("/api/system-status")).json())["uptime"]
    await conn.execute(
        """INSERT INTO maintenance_windows (title, description, affected_services, starts_at, ends_at, created_at)
           VALUES ('db', '', $1, $2, $3, $4)""",
        [SERVICE],
        NOW - timedelta(minutes=3),
        NOW - timedelta(minutes=1),
        NOW - timedelta(days=10),
    )
    for client in (two, one):
        assert _service((await client.get("/api/system-status")).json())["uptime"] != today_before

    # the service's catalog entry (not emptied between tests: named back afterwards)
    name = await conn.fetchval("SELECT name FROM services WHERE id = $1", SERVICE)
    await conn.execute("UPDATE services SET name = 'Face Compare (renamed)' WHERE id = $1", SERVICE)
    try:
        for client in (one, two):
            assert _service((await client.get("/api/system-status")).json())["name"] == "Face Compare (renamed)"
    finally:
        await conn.execute("UPDATE services SET name = $2 WHERE id = $1", SERVICE, name)
    for client in (one, two):
        assert _service((await client.get("/api/system-status")).json())["name"] == name

    # a late batch for a settled day, before and after the refresh writes it into the rollups
    assert _service((await one.get("/api/system-status")).json())["uptimeData"][-6] == "nd"
    await write_checks(conn, [slot(60 * 24 * 5 + i, ok=False) for i in range(30)], now=NOW)
    late = [_service((await c.get("/api/system-status")).json())["uptimeData"][-6] for c in (one, two)]
    assert late == ["e", "e"]  # 30 failed slots of a day's 1,440: monitoring impaired, no longer no data
    await rollups.refresh(conn, "UTC", NOW)
    assert [_service((await c.get("/api/system-status")).json())["uptimeData"][-6] for c in (one, two)] == late

    # every replica's body is the one a replica that never served anything builds
    fresh = (await replica().get("/api/system-status")).json()
    assert (await one.get("/api/system-status")).json() == fresh == (await two.get("/api/system-status")).json()


async def test_a_body_is_served_at_most_fresh_s_then_built_for_the_new_time(conn, replica):
    await write_checks(conn, [slot(i) for i in range(5)], now=NOW)
    client = replica()
    first = await client.get("/api/system-status")
    assert first.json()["lastUpdated"] == "2025-09-01T12:00:00Z"
    replica.clock["now"] = NOW + timedelta(seconds=cache.FRESH_S / 2)
    assert (await client.get("/api/system-status")).content == first.content  # kept
    builds = client.app.state.status_caches["system-status"].builds  # type: ignore[attr-defined]
    assert builds == 1
    # built again for the new time, the body of a moment ago served meanwhile (nothing stored moved);
    # the same figures keep their bytes, ETag and lastUpdated (since when they hold), so a copy a
    # client or a CDN holds stays valid
    replica.clock["now"] = NOW + timedelta(seconds=cache.FRESH_S)
    later = await client.get("/api/system-status", headers={"If-None-Match": first.headers["etag"]})
    assert later.status_code == 304
    bodies = client.app.state.status_caches["system-status"]  # type: ignore[attr-defined]
    for _ in range(200):
        if bodies.builds == 2:
            break
        await asyncio.sleep(0.05)
    assert bodies.builds == 2
    again = await client.get("/api/system-status", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and bodies.builds == 2
    # time alone changes the status: two days without a check, the service has no current data
    replica.clock["now"] = NOW + timedelta(days=2, minutes=10)
    moved = await client.get("/api/system-status", headers={"If-None-Match": first.headers["etag"]})
    assert moved.status_code == 200 and _service(moved.json())["lastCheckedAt"] is None
    assert moved.json()["lastUpdated"] == "2025-09-03T12:10:00Z"
    replica.clock["now"] = NOW - timedelta(minutes=2)  # a clock set back never gets a body from the future
    back = (await client.get("/api/system-status")).json()
    assert _service(back)["lastCheckedAt"] == "2025-09-01T11:58:00Z" and back["lastUpdated"] == "2025-09-01T11:58:00Z"


async def test_the_page_has_an_etag_and_shows_an_incident_update_at_once(conn, replica):
    await write_checks(conn, [slot(i) for i in range(5)], now=NOW)
    incident = await _incident(conn, "P2")
    await conn.execute(
        incident_queries.INSERT_UPDATE_AT,
        incident,
        "investigating",
        "Looking into it.",
        "ops",
        NOW - timedelta(minutes=4),
    )
    one, two = replica("status"), replica("status")
    for client in (one, two):
        page = await client.get("/?lang=en")
        assert page.status_code == 200 and "Looking into it." in page.text
        assert page.headers["cache-control"] == "private, no-cache"  # it sets the language cookie
        again = await client.get("/")  # the cookie says English
        assert (
            again.headers["cache-control"] == cache.CACHE_CONTROL
            and again.headers["vary"] == "Cookie, Accept-Language, Accept-Encoding"
        )
        assert again.headers["content-language"] == "en" and again.text == page.text
        assert (await client.get("/", headers={"If-None-Match": again.headers["etag"]})).status_code == 304
    one.cookies.clear()
    korean = await one.get("/", headers={"Accept-Language": "ko"})
    assert korean.headers["content-language"] == "ko" and korean.headers["etag"] != again.headers["etag"]

    await conn.execute(
        incident_queries.INSERT_UPDATE_AT,
        incident,
        "identified",
        "Connection pool exhausted.",
        "ops",
        NOW - timedelta(minutes=1),
    )
    for client in (two, one):
        assert "Connection pool exhausted." in (await client.get("/")).text


async def test_query_parameters_other_than_page_and_lang_make_no_new_variant(conn, replica):
    client = replica("status")
    pages = [await client.get(f"/?page=2&junk={i}", headers={"Accept-Language": "en"}) for i in range(5)]
    assert len({p.headers["etag"] for p in pages}) == 1 and "junk" not in pages[0].text
    assert client.app.state.status_caches["page"].builds == 1  # type: ignore[attr-defined]
    assert (await client.get("/?page=99")).status_code == 422


async def test_concurrent_readers_share_the_version_reads_and_one_build(conn, replica):
    await write_checks(conn, [slot(i) for i in range(5)], now=NOW)
    client = replica()
    responses = await asyncio.gather(*(client.get("/api/system-status") for _ in range(50)))
    assert {r.status_code for r in responses} == {200} and len({r.content for r in responses}) == 1
    state = client.app.state  # type: ignore[attr-defined]
    assert state.status_versions.reads < 50 and state.status_caches["system-status"].builds == 1
    # a write after those reads is seen by the next reader all the same
    await write_checks(conn, [slot(0, ok=False, now=NOW + timedelta(minutes=1))], now=NOW + timedelta(minutes=1))
    replica.clock["now"] = NOW + timedelta(minutes=1)
    assert _service((await client.get("/api/system-status")).json())["status"] == "degraded"


def _count_route_calls(client: httpx.AsyncClient) -> list[int]:
    """How many requests reached a status route: each takes deps.settings (FromMemory does not)."""
    calls = [0]
    app = client.app  # type: ignore[attr-defined]

    async def settings() -> object:
        calls[0] += 1
        return app.state.settings

    app.dependency_overrides[deps.settings] = settings
    return calls


SENT_HEADERS = (
    "etag", "cache-control", "vary", "content-type", "content-encoding", "content-language", "content-length",
    "content-security-policy", "x-content-type-options",
)  # fmt: skip


async def test_a_current_body_is_answered_ahead_of_routing_with_what_the_route_sends(conn, replica):
    await write_checks(conn, [slot(i) for i in range(5)], now=NOW)
    client, plain = replica("status"), replica("status")
    routed = _count_route_calls(client)
    # the same app without FromMemory: every request answered by its route
    plain.app.user_middleware = [m for m in plain.app.user_middleware if m.cls is not cache.FromMemory]  # type: ignore[attr-defined]
    english = {"Accept-Language": "en"}
    for path in ("/", "/api/system-status"):
        before = routed[0]
        first = await client.get(path, headers=english)  # built by the route
        assert routed[0] == before + 1
        for sent in (english, {**english, "Accept-Encoding": "identity"}, {**english, "If-None-Match": "x"}):
            again = await client.get(path, headers=sent)  # from memory: the route is not reached
            by_route = await plain.get(path, headers=sent)
            assert again.status_code == by_route.status_code == 200 and again.content == by_route.content
            assert {h: again.headers.get(h) for h in SENT_HEADERS} == {h: by_route.headers.get(h) for h in SENT_HEADERS}
        assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
        conditional = await client.get(path, headers={**english, "If-None-Match": first.headers["etag"]})
        assert conditional.status_code == 304 and conditional.headers["etag"] == first.headers["etag"]
    assert routed[0] == 2  # each path's first request only
    # a language cookie: that variant's body, from memory once built
    client.cookies.set("lang", "ko")
    korean = await client.get("/", headers=english)
    assert korean.headers["content-language"] == "ko" and routed[0] == 3
    assert (await client.get("/", headers=english)).content == korean.content and routed[0] == 3
    # a query string (?lang= sets the cookie, ?page=): the route's
    assert "set-cookie" in (await client.get("/?lang=en")).headers and routed[0] == 4
    # requests answered from memory are counted under their route (GET /metrics)
    samples = {
        (s.labels["route"], s.labels["status"]): s.value
        for metric in client.app.state.metrics.requests.collect()  # type: ignore[attr-defined]
        for s in metric.samples
        if s.name.endswith("_count")
    }
    assert samples[("/", "2xx")] >= 7 and samples[("/api/system-status", "2xx")] >= 4
    assert samples[("/", "3xx")] == samples[("/api/system-status", "3xx")] == 1


async def test_readers_arriving_while_a_change_is_built_wait_for_it_ahead_of_routing_and_see_it(conn, replica):
    await write_checks(conn, [slot(i) for i in range(3, 8)], now=NOW)
    client = replica("status")
    routed = _count_route_calls(client)
    state = client.app.state  # type: ignore[attr-defined]
    english = {"Accept-Language": "en"}
    for path, name, failed in (("/api/system-status", "system-status", 2), ("/", "page", 1)):
        shown = await client.get(path, headers=english)
        caches = state.status_caches
        await write_checks(conn, [slot(failed, ok=False)], now=NOW)  # a change
        builds, before = caches[name].builds, routed[0]
        # arriving together: they share the version reads, and find no build of the new version yet
        responses = await asyncio.gather(*(client.get(path, headers=english) for _ in range(30)))
        assert routed[0] == before + 1 and caches[name].builds == builds + 1  # one started it, the others waited
        # arriving while it is being built
        await write_checks(conn, [slot(failed + 10, ok=False)], now=NOW)
        first = asyncio.create_task(client.get(path, headers=english))  # the route starts the build
        for _ in range(1000):
            if caches[name]._building:
                break
            await asyncio.sleep(0.001)
        rest = await asyncio.gather(*(client.get(path, headers=english) for _ in range(30)))
        assert routed[0] == before + 2 and caches[name].builds == builds + 2
        assert len({r.content for r in [await first, *rest]}) == 1 and rest[0].content != responses[0].content
        assert len({r.content for r in responses}) == 1 and responses[0].content != shown.content
        if name == "page":
            assert 'data-service="face-compare"' in responses[0].text and 'data-state="degraded"' in responses[0].text
        else:
            assert _service(responses[0].json())["status"] == "degraded"


def _as_of(page: httpx.Response) -> str:
    return re.search(r'<time id="as-of" datetime="([^"]+)">', page.text).group(1)


async def test_the_page_keeps_its_bytes_etag_and_as_of_while_only_time_moves(conn, replica):
    await write_checks(conn, [slot(i) for i in range(3, 8)], now=NOW)
    client = replica("status")
    english = {"Accept-Language": "en"}
    first = await client.get("/", headers=english)
    assert _as_of(first) == NOW.isoformat()
    pages = client.app.state.status_caches["page"]  # type: ignore[attr-defined]

    # built again for the new time (the body of a moment ago served meanwhile): the same figures,
    # so the same bytes and ETag, and "as of" says since when they hold, as the API's lastUpdated
    replica.clock["now"] = NOW + timedelta(seconds=cache.FRESH_S)
    kept = await client.get("/", headers={**english, "If-None-Match": first.headers["etag"]})
    assert kept.status_code == 304
    for _ in range(200):
        if pages.builds == 2:
            break
        await asyncio.sleep(0.05)
    assert pages.builds == 2
    again = await client.get("/", headers=english)
    assert again.headers["etag"] == first.headers["etag"] and again.content == first.content

    # a change is in the very next response, "as of" the time it was read
    await write_checks(conn, [slot(2, ok=False)], now=NOW)
    changed = await client.get("/", headers={**english, "If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    assert _as_of(changed) == (NOW + timedelta(seconds=cache.FRESH_S)).isoformat()
    assert 'data-service="face-compare"' in changed.text and 'data-state="degraded"' in changed.text


async def test_overlapping_version_reads_see_the_writes_before_them_and_never_go_back(pool, conn):
    versions = cache.Versions(pool, max_reads=2)
    reads: list[asyncio.Task[tuple[int, ...]]] = []
    floors: list[tuple[int, ...]] = []  # the version committed before each read was asked for
    for wave in range(6):
        # committed (the reads of the previous wave still running meanwhile): its generation moved
        await write_checks(conn, [slot(30 + wave)], now=NOW)
        floor = tuple(await conn.fetchval(queries.STATUS_VERSION))
        for _ in range(10):
            reads.append(asyncio.create_task(versions.read()))
            floors.append(floor)
        await asyncio.sleep(0)  # they arrive: a read starts for them
        assert len(versions._readers) <= 2
    seen = [await read for read in reads]
    assert all(min(a - b for a, b in zip(got, floor, strict=True)) >= 0 for got, floor in zip(seen, floors))
    assert all(min(b - a for a, b in zip(earlier, later, strict=True)) >= 0 for earlier, later in zip(seen, seen[1:]))
    assert seen[-1] == tuple(await conn.fetchval(queries.STATUS_VERSION))
    assert versions.reads < len(reads)


async def test_two_ingest_transactions_do_not_wait_for_each_other_and_each_moves_the_version(pool, conn):
    """sql/280: the checks' generation has a row per writing backend, so a second writer's batch
    commits while the first's transaction is still open (with one row it waited for that commit)."""
    await write_checks(conn, [slot(50)], now=NOW)  # the chunk exists: creating it locks the hypertable
    before = tuple(await conn.fetchval(queries.STATUS_VERSION))
    async with pool.acquire() as first, pool.acquire() as second:
        pids = [await c.fetchval("SELECT pg_backend_pid() % 64") for c in (first, second)]
        if pids[0] == pids[1]:
            pytest.skip("the two pooled backends share a shard (1 in 64)")
        open_batch = first.transaction()
        await open_batch.start()
        try:
            await write_checks(first, [slot(40)], now=NOW)
            await asyncio.wait_for(write_checks(second, [slot(41)], now=NOW), timeout=10)
            assert tuple(await conn.fetchval(queries.STATUS_VERSION)) != before  # the second's, committed
        finally:
            await open_batch.commit()
    after = tuple(await conn.fetchval(queries.STATUS_VERSION))
    assert [b - a for a, b in zip(before, after, strict=True)].count(2) == 1  # checks: +2, nothing else
    assert sum(b - a for a, b in zip(before, after, strict=True)) == 2
