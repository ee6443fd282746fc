"""The rollups' one door (app/rollups/service.py): what a process learns is kept on its pool's
db.Memory, never shared with another pool, and a refresh records what it rewrote for others to act on."""

from datetime import datetime, timedelta, timezone

import asyncpg

from app import db
from app.ingest.service import CheckRow, write_checks
from app.rollups import service as rollups

BASE = datetime(2025, 10, 25, 12, tzinfo=timezone.utc)
NOW = BASE + timedelta(days=3)


async def test_a_pools_connections_share_one_memory_and_other_connections_get_their_own(pool, database_url):
    async with pool.acquire() as first, pool.acquire() as second:
        assert db.memory(first) is db.memory(second)
        assert db.memory(first).of(rollups.Known) is db.memory(second).of(rollups.Known)
        await rollups.backend(first)
        assert db.memory(second).of(rollups.Known).backend is await rollups.backend(first)
    other = await asyncpg.create_pool(database_url, min_size=1, max_size=1, connection_class=db.pool_connection_class())
    bare = await asyncpg.connect(database_url)
    try:
        async with other.acquire() as conn, pool.acquire() as mine:
            assert db.memory(conn) is not db.memory(mine)  # another pool learns for itself
        assert db.memory(bare) is not db.memory(bare)  # no pool: nothing kept, every call asks again
        async with pool.acquire() as mine:
            assert (await rollups.backend(bare)).name == (await rollups.backend(mine)).name
    finally:
        await bare.close()
        await other.close()


async def test_a_refresh_records_the_oldest_instant_it_rewrote(conn):
    rows = [CheckRow(BASE + timedelta(minutes=m), "face-compare", "seoul", True, 200, 100) for m in range(0, 600, 5)]
    await write_checks(conn, rows, now=NOW)
    await rollups.refresh(conn, "UTC", NOW)
    before = await conn.fetchrow("SELECT * FROM rollup_rewrites")
    # Two late regions, the older at BASE + 1 h: recomputed, and recorded as rewritten from there.
    late = [
        CheckRow(BASE + timedelta(hours=h), "face-compare", region, False, 503, 100, "http_error")
        for h, region in ((3, "virginia"), (1, "frankfurt"))
    ]
    await write_checks(conn, late, now=NOW)
    async with conn.transaction():
        await rollups.refresh(conn, "UTC", NOW, grace=timedelta(minutes=5))
        # (the 'caggs' backend refuses inside a transaction: it keeps the ranges logged)
        if not await rollups.uses_caggs(conn):
            recorded = await conn.fetchrow("SELECT rewritten_from, refreshed_to FROM rollup_rewrites")
            assert tuple(recorded) == (BASE + timedelta(hours=1), NOW - timedelta(minutes=5))
    await rollups.refresh(conn, "UTC", NOW, grace=timedelta(minutes=5))
    recorded = await conn.fetchrow("SELECT rewritten_from, refreshed_to FROM rollup_rewrites")
    assert tuple(recorded) == (BASE + timedelta(hours=1), NOW - timedelta(minutes=5))
    assert before is None or before["rewritten_from"] != recorded["rewritten_from"]
