"""Current status (docs/sla-math.md): outage / degraded / operational from the newest slots and open
incidents; the overall status is the worst; the 90-day uptime is truncated."""

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from app import db
from app.db import create_pool, spare_connection
from app.incidents import queries as incident_queries
from app.ingest.service import CheckRow, write_checks
from app.main import create_app
from app.rollups import service as rollups
from app.status import history
from app.status import service as status

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=timezone.utc)


def slot(minutes_ago, ok=True, latency=200, service="face-compare", region="seoul"):
    return CheckRow(
        NOW - timedelta(minutes=minutes_ago),
        service,
        region,
        ok,
        200 if ok else 503,
        latency,
        None if ok else "http_error",
    )


@pytest.mark.parametrize(
    "history, expected",
    [
        ([True, True, True, True], "operational"),
        ([False, True, True, True], "degraded"),  # newest failed
        ([False, False, True, True], "degraded"),
        ([False, False, False, True], "outage"),  # last three failed
        ([9000, True, True], "degraded"),  # newest slower than the 7 s target
        ([True, 9000, 9000, 9000], "operational"),  # only the newest slot's latency counts
    ],
)
async def test_status_from_the_newest_slots(make_client, conn, history, expected):
    rows = []
    for i, h in enumerate(history):  # newest first
        rows.append(slot(i, ok=h is not False, latency=h if type(h) is int else 200))
    await write_checks(conn, rows, now=NOW)
    client = await make_client(now=NOW)
    body = (await client.get("/api/system-status")).json()
    service = next(s for s in body["services"] if s["id"] == "face-compare")
    assert service["status"] == expected
    assert body["overallStatus"] == expected  # the other services have no data: operational


@pytest.mark.parametrize(
    "history, expected, newest",
    [
        ({0: False, 1: False, 300: False, 301: True}, "outage", 0),  # third-newest slot five hours old
        ({300: False, 301: False, 302: False}, "outage", 300),  # nothing recent: the newest three anyway
        ({0: True, 2: True, 300: False, 301: False}, "operational", 0),
        ({3000: False, 3001: False, 3002: False}, "operational", None),  # older than two days: no current data
    ],
)
async def test_newest_slots_are_found_however_old_within_two_days(make_client, conn, history, expected, newest):
    """minutes ago -> ok"""
    await write_checks(conn, [slot(minutes, ok=ok) for minutes, ok in history.items()], now=NOW)
    client = await make_client(now=NOW)
    service = next(s for s in (await client.get("/api/system-status")).json()["services"] if s["id"] == "face-compare")
    assert service["status"] == expected
    checked = None if newest is None else (NOW - timedelta(minutes=newest)).isoformat().replace("+00:00", "Z")
    assert service["lastCheckedAt"] == checked


async def test_majority_of_regions_decides_a_slot(make_client, conn):
    rows = []
    for i in range(3):
        rows += [
            slot(i, ok=False, region="seoul"),
            slot(i, ok=False, region="virginia"),
            slot(i, ok=True, region="frankfurt"),
        ]
    await write_checks(conn, rows, now=NOW)
    client = await make_client(now=NOW)
    service = next(s for s in (await client.get("/api/system-status")).json()["services"] if s["id"] == "face-compare")
    assert service["status"] == "outage"


@pytest.mark.parametrize("priority, expected", [("P1", "outage"), ("P2", "degraded"), ("P3", "degraded")])
async def test_open_incidents_set_the_floor(make_client, conn, priority, expected):
    await write_checks(conn, [slot(i) for i in range(5)], now=NOW)
    await conn.fetchval(
        incident_queries.INSERT_AT,
        "x",
        "",
        "investigating",
        "high",
        priority,
        "",
        "",
        ["face-compare"],
        None,
        NOW - timedelta(minutes=10),
        None,
    )
    client = await make_client(now=NOW)
    body = (await client.get("/api/system-status")).json()
    assert next(s for s in body["services"] if s["id"] == "face-compare")["status"] == expected
    assert body["overallStatus"] == expected


async def test_ninety_day_uptime_is_truncated_and_grid_has_ninety_days(make_client, conn):
    # 10,000 slots with 7 failures: 99.93 exactly -> "99.93"; 3 failures of 10,000 = 99.97
    rows = [slot(i, ok=i % 1429 != 5) for i in range(10_000)]
    await write_checks(conn, rows, now=NOW)
    failures = sum(1 for r in rows if not r.ok)
    client = await make_client(now=NOW)
    service = next(s for s in (await client.get("/api/system-status")).json()["services"] if s["id"] == "face-compare")
    exact = (10_000 - failures) * 100 / 10_000
    assert service["uptime"] == f"{int(exact * 100) / 100:.2f}"
    assert len(service["uptimeData"]) == 90
    assert service["uptimeData"][:80] == ["nd"] * 80
    other = next(s for s in (await client.get("/api/system-status")).json()["services"] if s["id"] == "id-recognition")
    assert other["uptime"] is None  # no checks: null, never 100


async def _history_with_a_spare(pool, conn):
    """40 days of 10-minute checks with failures and an open P2 incident, refreshed (the grid then reads
    the packed days), and a second connection left idle in the pool."""
    rows = [
        slot(m, ok=m % 170 != 0, service=sid)
        for m in range(0, 60 * 24 * 40, 10)
        for sid in ("face-compare", "curp-verifier")
    ]
    await write_checks(conn, rows, now=NOW)
    await rollups.refresh(conn, "UTC", NOW)
    await conn.fetchval(
        incident_queries.INSERT_AT,
        "x",
        "",
        "investigating",
        "high",
        "P2",
        "",
        "",
        ["face-compare"],
        None,
        NOW - timedelta(days=3),
        None,
    )
    async with pool.acquire():
        pass


async def test_the_current_state_read_beside_the_grid_is_the_one_read_alone(pool, conn, monkeypatch):
    await _history_with_a_spare(pool, conn)
    spares = []

    async def counted(p):
        spare = await spare_connection(p)
        spares.append(spare)
        return spare

    monkeypatch.setattr(db, "spare_connection", counted)
    idle = pool.get_idle_size()
    beside = await status.system_status(conn, NOW, "UTC", ZoneInfo("UTC"), pool)
    assert spares and spares[0] is not None  # the second connection was taken ...
    assert pool.get_idle_size() == idle  # ... and given back
    db.memory(conn).of(history.SettledDays).held = None  # the grid read again, on one connection
    alone = await status.system_status(conn, NOW, "UTC", ZoneInfo("UTC"))
    assert beside == alone
    face = next(s for s in alone["services"] if s["id"] == "face-compare")
    assert face["status"] == "degraded"  # the open P2
    # checked every 10 minutes where 1-minute slots are expected: too few slots on each day with data
    assert face["uptimeData"][:48] == ["nd"] * 48 and face["uptimeData"][-41:] == ["e"] * 41
    assert face["uptime"] == "94.11"  # 339 of 5,760 slots failed (m % 170 == 0): 94.114..., truncated


async def test_a_busy_pool_serves_the_status_on_one_connection_per_request(settings):
    """Requests never wait for a second connection: more concurrent requests than the pool holds
    all finish, each on its one connection when no other is idle."""
    small = await create_pool(settings, min_size=1, max_size=2)
    try:
        app = create_app(settings)
        app.state.pool = small
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            answers = await asyncio.wait_for(
                asyncio.gather(*(client.get("/api/system-status") for _ in range(8))), timeout=120
            )
        assert [a.status_code for a in answers] == [200] * 8
        assert len({len(a.json()["services"]) for a in answers}) == 1
    finally:
        await small.close()


async def test_the_spare_connection_goes_back_when_the_grid_read_fails(pool, conn, monkeypatch):
    await _history_with_a_spare(pool, conn)

    async def failing(*args):
        raise RuntimeError("grid read failed")  # before the current state's task even started

    monkeypatch.setattr(history, "grid", failing)
    idle = pool.get_idle_size()
    with pytest.raises(RuntimeError, match="grid read failed"):
        await status.system_status(conn, NOW, "UTC", ZoneInfo("UTC"), pool)
    assert pool.get_idle_size() == idle
    assert not conn.is_in_transaction()
