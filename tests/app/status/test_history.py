"""The settled days of the 90-day grid are kept in memory (app/status/history.py): after every kind of
write that can change a past day, the status equals a status computed from nothing, and the change
shows at once."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app import db
from app.ingest.service import CheckRow, write_checks
from app.rollups import caggs
from app.rollups import queries as rollup_queries
from app.rollups import service as rollups
from app.status import history
from app.status import service as status

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=timezone.utc)
UTC = ZoneInfo("UTC")
SERVICE = "face-compare"
DAY = timedelta(days=1)
FIRST = datetime(2025, 8, 22, tzinfo=timezone.utc)  # ten days back: settled, far from the recent two
FAILED_AT = FIRST + DAY + timedelta(hours=3)  # two failed minutes on the second day


def full_days(days: int, failed: set[datetime]) -> list[CheckRow]:
    rows = []
    for minute in range(days * 1440):
        ts = FIRST + timedelta(minutes=minute)
        ok = ts not in failed
        rows.append(CheckRow(ts, SERVICE, "seoul", ok, 200 if ok else 503, 120, None if ok else "http_error"))
    return rows


async def grid_of(conn):
    """(letters of the three seeded days, the grid) as the status page serves it, after checking it
    equals a status computed with nothing held in memory."""
    system, grid = await status.snapshot(conn, NOW, "UTC", UTC)
    memory = db.memory(conn).of(history.SettledDays)
    held, memory.held = memory.held, None
    fresh, fresh_grid = await status.snapshot(conn, NOW, "UTC", UTC)
    memory.held = held
    assert system == fresh
    assert grid.days == fresh_grid.days and grid.codes == fresh_grid.codes
    entry = next(s for s in system["services"] if s["id"] == SERVICE)
    first = (FIRST.date() - (NOW.date() - timedelta(days=89))).days
    return entry["uptimeData"][first : first + 3], grid


@pytest.fixture
async def seeded(conn):
    tier = await conn.fetchval("SELECT tier FROM services WHERE id = $1", SERVICE)
    await conn.execute("UPDATE services SET tier = 'professional' WHERE id = $1", SERVICE)
    yield await _seed(conn)
    await conn.execute("UPDATE services SET tier = $2 WHERE id = $1", SERVICE, tier)


async def _seed(conn):
    await write_checks(conn, full_days(3, {FAILED_AT, FAILED_AT + timedelta(minutes=1)}), now=NOW)
    await rollups.refresh(conn, "UTC", NOW)
    letters, grid = await grid_of(conn)
    assert letters == ["o", "po", "o"]  # 1438 of 1440 is under the professional tier's 99.9 %
    return conn


async def test_settled_days_are_served_from_memory_until_something_moves(seeded):
    _, first = await grid_of(seeded)
    _, second = await grid_of(seeded)
    assert first.settled == second.settled == 88
    assert second.memo is first.memo  # the same settled days: not read again
    await seeded.execute("UPDATE incidents SET title = title")  # any write moves the generation
    _, third = await grid_of(seeded)
    assert third.memo is not first.memo


async def test_a_tier_change_rejudges_past_days(seeded):
    await seeded.execute("UPDATE services SET tier = 'developer' WHERE id = $1", SERVICE)
    assert (await grid_of(seeded))[0] == ["o", "o", "o"]  # 99.86 % meets the developer tier's 99.5 %


async def test_an_incident_on_a_past_day_marks_it(seeded):
    await seeded.execute(
        """INSERT INTO incidents (title, severity, priority, affected_services, status, created_at, resolved_at)
           VALUES ('outage', 'critical', 'P1', $1, 'resolved', $2, $3)""",
        [SERVICE],
        FIRST + timedelta(hours=12),
        FIRST + timedelta(hours=13),
    )
    assert (await grid_of(seeded))[0] == ["mo", "po", "o"]
    await seeded.execute("DELETE FROM incidents")
    assert (await grid_of(seeded))[0] == ["o", "po", "o"]


async def test_a_maintenance_window_over_past_failures_takes_them_out(seeded):
    await seeded.execute(
        "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) VALUES ('db', $1, $2, $3)",
        [SERVICE],
        FAILED_AT,
        FAILED_AT + timedelta(minutes=30),
    )
    assert (await grid_of(seeded))[0] == ["o", "o", "o"]


async def test_a_late_batch_shows_at_once_and_after_the_refresh(seeded):
    # Two more regions fail the third day's first minutes: those slots now fail by majority.
    late = [
        CheckRow(FIRST + 2 * DAY + timedelta(minutes=m), SERVICE, region, False, 503, 80, "http_error")
        for m in range(3)
        for region in ("virginia", "frankfurt")
    ]
    await write_checks(seeded, late, now=NOW)
    letters, grid = await grid_of(seeded)
    assert letters == ["o", "po", "po"]
    assert grid.settled == 0  # the late write is still pending: nothing was taken from memory
    await rollups.refresh(seeded, "UTC", NOW)
    letters, grid = await grid_of(seeded)
    assert letters == ["o", "po", "po"]
    assert grid.settled == 88


async def test_emptying_the_tables_empties_the_grid(seeded):
    await seeded.execute(
        "TRUNCATE checks, rollup_check_slots, rollup_checks_daily, rollup_checks_hourly, rollup_state, "
        "rollup_invalidations"
    )
    if await rollups.uses_caggs(seeded):  # the continuous aggregates keep their rows until emptied too
        for view in reversed(caggs.VIEWS):
            await seeded.execute(f"TRUNCATE {view}")
    assert (await grid_of(seeded))[0] == ["nd", "nd", "nd"]


async def test_a_refresh_that_rewrote_days_before_yesterday_moves_them(conn):
    """The rollups record what a refresh rewrote (sql/270); the status side decides (sql/271): a rewrite
    older than 12 hours before the refresh's watermark may reach a settled day and moves the generation
    in the refresh's transaction, a newer one cannot and does not."""

    async def generation() -> int:
        return await conn.fetchval("SELECT generation FROM data_generations WHERE name = 'rollups'")

    before = await generation()
    async with conn.transaction():
        await conn.execute(rollup_queries.RECORD_REWRITE, NOW - timedelta(hours=11), NOW)
        assert await generation() == before
        await conn.execute(rollup_queries.RECORD_REWRITE, NOW - timedelta(hours=13), NOW)
        assert await generation() == before + 1
