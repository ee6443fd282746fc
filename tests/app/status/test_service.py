"""Current status (SLA-MATH.md): outage / degraded / operational from the newest slots and open
incidents; the overall status is the worst; the 90-day uptime is truncated."""
from datetime import datetime, timedelta, timezone

import pytest

from app.incidents import queries as incident_queries
from app.ingest.service import CheckRow, write_checks

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=timezone.utc)


def slot(minutes_ago, ok=True, latency=200, service="face-compare", region="seoul"):
    return CheckRow(NOW - timedelta(minutes=minutes_ago), service, region, ok, 200 if ok else 503, latency,
                    None if ok else "http_error")


@pytest.mark.parametrize("history, expected", [
    ([True, True, True, True], "operational"),
    ([False, True, True, True], "degraded"),          # newest failed
    ([False, False, True, True], "degraded"),
    ([False, False, False, True], "outage"),          # last three failed
    ([9000, True, True], "degraded"),                 # newest slower than the 7 s target
    ([True, 9000, 9000, 9000], "operational"),        # only the newest slot's latency counts
])
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


@pytest.mark.parametrize("history, expected, newest", [
    ({0: False, 1: False, 300: False, 301: True}, "outage", 0),     # third-newest slot five hours old
    ({300: False, 301: False, 302: False}, "outage", 300),          # nothing recent: the newest three anyway
    ({0: True, 2: True, 300: False, 301: False}, "operational", 0),
    ({3000: False, 3001: False, 3002: False}, "operational", None),  # older than two days: no current data
])
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
        rows += [slot(i, ok=False, region="seoul"), slot(i, ok=False, region="virginia"), slot(i, ok=True, region="frankfurt")]
    await write_checks(conn, rows, now=NOW)
    client = await make_client(now=NOW)
    service = next(s for s in (await client.get("/api/system-status")).json()["services"] if s["id"] == "face-compare")
    assert service["status"] == "outage"


@pytest.mark.parametrize("priority, expected", [("P1", "outage"), ("P2", "degraded"), ("P3", "degraded")])
async def test_open_incidents_set_the_floor(make_client, conn, priority, expected):
    await write_checks(conn, [slot(i) for i in range(5)], now=NOW)
    await conn.fetchval(incident_queries.INSERT_AT, "x", "", "investigating", "high", priority, "", "", ["face-compare"],
                        None, NOW - timedelta(minutes=10), None)
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
