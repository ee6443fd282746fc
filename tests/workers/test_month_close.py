"""The month close: freezes each service's month once the month has ended in the reporting zone and the
grace delay has passed; idempotent when run twice and when two workers run it at the same time."""

import asyncio
from datetime import datetime, timedelta, timezone

from app.config import Settings
from app.ingest.service import CheckRow, write_checks
from app.periods import add_months, day_start, local_date, month
from app.reports import service as reports
from tests.app.sla.test_api import SID, ZONE, august  # noqa: F401
from workers.reports import close_months

GRACE = timedelta(hours=1)
AUGUST_END = datetime(2025, 8, 31, 15, 0, tzinfo=timezone.utc)  # 2025-09-01 00:00 in Seoul
ZONEINFO = Settings(timezone=ZONE).zone


async def frozen(conn) -> list[tuple]:
    return [
        tuple(r)
        for r in await conn.fetch("SELECT service_id, month::text, revision FROM report_snapshots ORDER BY 1, 2, 3")
    ]


async def test_nothing_is_frozen_before_the_grace_has_passed(conn, august):
    closed = await reports.close_due_months(conn, AUGUST_END + GRACE - timedelta(seconds=1), ZONE, ZONEINFO, GRACE)
    assert "2025-08" not in closed
    assert [r for r in await frozen(conn) if r[1] == "2025-08-01"] == []
    closed = await reports.close_due_months(conn, AUGUST_END + GRACE, ZONE, ZONEINFO, GRACE)
    assert SID in closed["2025-08"]


async def test_closing_twice_changes_nothing(conn, august):
    now = AUGUST_END + GRACE
    first = await reports.close_due_months(conn, now, ZONE, ZONEINFO, GRACE)
    rows = await frozen(conn)
    snapshot = await conn.fetch("SELECT service_id, month, figures::text FROM report_snapshots ORDER BY 1, 2")
    second = await reports.close_due_months(conn, now + timedelta(days=3), ZONE, ZONEINFO, GRACE)
    assert all(ids == [] for ids in second.values())
    assert await frozen(conn) == rows
    assert await conn.fetch("SELECT service_id, month, figures::text FROM report_snapshots ORDER BY 1, 2") == snapshot
    # August is frozen once, as revision 1, for the service with data; the other catalog services were
    # created (by this test database) after August and had no rows then: nothing to report.
    august_rows = [r for r in rows if r[1] == "2025-08-01"]
    assert august_rows == [(SID, "2025-08-01", 1)]
    assert sorted(first["2025-08"]) == sorted(r[0] for r in august_rows)


async def test_two_workers_closing_at_once_freeze_each_month_once(pool, conn, august):
    now = AUGUST_END + GRACE
    await conn.execute("TRUNCATE audit_log")

    async def worker():
        async with pool.acquire() as c:
            return await reports.close_due_months(c, now, ZONE, ZONEINFO, GRACE)

    results = await asyncio.gather(worker(), worker(), worker())
    closed_ids = [sid for result in results for sid in result.get("2025-08", [])]
    assert sorted(closed_ids) == sorted(set(closed_ids)) and SID in closed_ids  # no service frozen twice
    # Without the lock (another worker's lock already released), the unique rows still hold.
    async with pool.acquire() as c1, pool.acquire() as c2:
        both = await asyncio.gather(
            reports.close_month(c1, month(2025, 8, ZONEINFO), now, ZONE),
            reports.close_month(c2, month(2025, 8, ZONEINFO), now, ZONE),
        )
    assert both == [[], []]
    counts = await conn.fetch("SELECT service_id, count(*) FROM report_snapshots WHERE month = '2025-08-01' GROUP BY 1")
    assert [(r["service_id"], r["count"]) for r in counts] == [(SID, 1)]
    audited = await conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'report.closed' AND target_id LIKE '%/2025-08'"
    )
    assert audited == 1


async def test_the_cron_job_closes_last_month_by_the_real_clock(pool, conn, settings):
    now = datetime.now(timezone.utc)
    first_of_last_month = add_months(local_date(now, ZONEINFO).replace(day=1), -1)
    ts = day_start(first_of_last_month, ZONEINFO) + timedelta(hours=5)
    await write_checks(conn, [CheckRow(ts, SID, "seoul", True, 200, 120)], now=now)
    ctx = {"pool": pool, "settings": settings.model_copy(update={"timezone": ZONE, "report_close_grace_s": 0})}
    first = await close_months(ctx)
    second = await close_months(ctx)
    label = first_of_last_month.strftime("%Y-%m")
    assert SID in first[label]
    assert all(ids == [] for ids in second.values())
    row = await conn.fetchrow(
        "SELECT revision, figures::json->'availability'->>'totalChecks' AS checks "
        "FROM report_snapshots WHERE service_id = $1 AND month = $2",
        SID,
        first_of_last_month,
    )
    assert (row["revision"], row["checks"]) == (1, "1")
