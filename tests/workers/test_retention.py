"""Retention: raw chunks older than the retention period are dropped whole, the rollups are kept, and
every read of an old month (availability with its maintenance exclusions, the 90-day grid's days,
usage) is unchanged afterwards, even when old buckets are invalidated again (a changed service, a
`rollups refresh --from`) or were still pending when the chunks went."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.retention import service as retention
from app.rollups import service as rollups

ZONE = "Asia/Seoul"  # days cut at 15:00 UTC: the horizon falls inside a day bucket
SID = "face-compare"
NOW = datetime(2026, 10, 15, 6, 0, tzinfo=timezone.utc)
START = datetime(2025, 7, 25, tzinfo=timezone.utc)
END = datetime(2025, 9, 25, tzinfo=timezone.utc)
MAINTENANCE = (datetime(2025, 8, 10, 1, 0, tzinfo=timezone.utc), datetime(2025, 8, 10, 3, 0, tzinfo=timezone.utc))
READS = [
    f"/api/sla/availability/{SID}?year=2025&month=8",
    f"/api/sla/availability/{SID}?year=2025&month=9",
    f"/api/sla/usage/{SID}?year=2025&month=8",
    f"/api/sla/usage/{SID}?year=2025&month=9",
    f"/api/uptime/{SID}?months=3&startDate=2025-07-01",
]


@pytest.fixture
async def history(conn):
    rng = np.random.default_rng(3)
    minutes = int((END - START).total_seconds() // 60)
    fail = rng.random(minutes) < 0.01
    fail[int((MAINTENANCE[0] - START).total_seconds() // 60) :][:60] = True  # failures inside the window

    def check(i, region, ok):
        return CheckRow(
            START + timedelta(minutes=i), SID, region, ok, 200 if ok else 503, 300, None if ok else "http_error"
        )

    checks = [check(i, "seoul", not fail[i]) for i in range(minutes)]
    checks += [check(i, "tokyo", bool(i % 3)) for i in range(0, minutes, 7)]  # a second region now and then
    calls = [
        ApiCallRow(START + timedelta(seconds=float(s)), SID, "/x", "GET", int(c), 200, f"r{i}")
        for i, (s, c) in enumerate(
            zip(rng.uniform(0, (END - START).total_seconds(), 20_000), rng.choice([200, 200, 200, 404, 500], 20_000))
        )
    ]
    await conn.execute(
        "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) VALUES ('upgrade', $1, $2, $3)",
        [SID],
        *MAINTENANCE,
    )
    await write_checks(conn, checks[: len(checks) // 2], now=NOW)
    await write_api_calls(conn, calls[:10_000], now=NOW)
    await rollups.refresh(conn, ZONE, datetime(2025, 9, 1, tzinfo=timezone.utc))
    await write_checks(conn, checks[len(checks) // 2 :], now=NOW)  # the rest, some still pending when
    await write_api_calls(conn, calls[10_000:], now=NOW)  # the retention runs
    return checks


async def read_all(client) -> list[dict]:
    bodies = []
    for path in READS:
        r = await client.get(path)
        assert r.status_code == 200, r.text
        bodies.append(r.json())
    return bodies


async def test_old_months_read_the_same_after_retention(history, conn, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    before = await read_all(client)
    assert before[0]["metrics"]["maintenanceChecks"] == 120 and before[0]["metrics"]["failedChecks"] > 0

    dropped = await retention.apply(conn, NOW, 400, ZONE, timedelta(minutes=5))
    horizon = {d.raw_table: d.dropped_before for d in dropped}
    cutoff = NOW - timedelta(days=400)
    assert horizon["checks"] == datetime(2025, 9, 10, tzinfo=timezone.utc) <= cutoff  # whole 1-day chunks
    assert {d.raw_table: d.chunks for d in dropped} == {"checks": 47, "api_calls": 47}
    assert await conn.fetchval("SELECT min(ts) FROM checks") == horizon["checks"]
    assert await conn.fetchval("SELECT count(*) FROM maintenance_slots_archive") == 120
    assert await read_all(client) == before

    # An old invalidation (a changed service, `slamon rollups refresh --from`) must not re-aggregate
    # the dropped rows over the kept buckets: neither while pending nor once refreshed.
    await rollups.invalidate_range(conn, rollups.FAR_PAST, rollups.FAR_FUTURE)
    assert await read_all(client) == before
    await rollups.refresh(conn, ZONE, NOW)
    assert await read_all(client) == before
    assert await conn.fetchval("SELECT count(*) FROM rollup_invalidations") == 0

    # Running it again drops nothing more and changes nothing.
    again = await retention.apply(conn, NOW, 400, ZONE, timedelta(minutes=5))
    assert [d.chunks for d in again] == [0, 0] and await read_all(client) == before
    if await rollups.uses_caggs(conn):
        return  # the rest inspects the Apache rollup tables; the aggregates' re-cut: tests/app/rollups/test_caggs.py
    # A time-zone change re-cuts only the days that still have raw rows; the older ones are kept, and
    # no slot is lost or counted twice, there and back again.
    total = "SELECT sum(slots), sum(failed_slots) FROM rollup_checks_daily"
    counted = tuple(await conn.fetchrow(total))
    old_days = "SELECT count(*) FROM rollup_checks_daily WHERE bucket < $1"
    kept = await conn.fetchval(old_days, horizon["checks"])
    await rollups.refresh(conn, "UTC", NOW)
    assert tuple(await conn.fetchrow(total)) == counted
    assert await conn.fetchval(old_days, horizon["checks"]) == kept > 0
    final = await conn.fetchval("SELECT final_before FROM rollup_state WHERE rollup = 'checks_daily'")
    assert final == datetime(2025, 9, 11, tzinfo=timezone.utc)  # the first UTC day after the last Seoul one
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM rollup_checks_daily WHERE bucket >= $1 "
            "AND bucket <> date_trunc('day', bucket, 'UTC')",
            final,
        )
        == 0
    )
    await rollups.refresh(conn, ZONE, NOW)
    assert tuple(await conn.fetchrow(total)) == counted
    assert await read_all(client) == before
    # A window deleted after its raw rows went gives its slots back to the figures.
    await conn.execute("DELETE FROM maintenance_windows")
    assert (await read_all(client))[0]["metrics"]["maintenanceChecks"] == 0


async def test_the_cron_keeps_recent_data(conn, worker_ctx):
    from workers.retention import apply_retention

    now = datetime.now(timezone.utc)
    await write_checks(conn, [CheckRow(now - timedelta(days=2), SID, "seoul", True, 200, 300)])
    summary = await apply_retention(worker_ctx)
    assert summary["checks"]["chunks"] == 0 and await conn.fetchval("SELECT count(*) FROM checks") == 1
