"""Raw-data retention: `checks` and `api_calls` chunks older than the retention period are dropped
whole (TimescaleDB drop_chunks), and with them the chunks of their first rollup level (slots,
minutes: sql/200); the hourly and daily rollups stay, final, and read as before.

In one transaction, under the rollup refresh lock: the rollups are first brought up to date (every
bucket of the chunks about to go is materialised and no invalidation of them is pending), the slots
of the dropped checks that lie in maintenance windows are archived (the SLA figures keep subtracting
them), the chunks are dropped, and the horizon is recorded (raw_retention): buckets before it are
never recomputed from raw rows again, whatever invalidation comes later."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from app.retention import queries
from app.rollups import service as rollups

log = logging.getLogger(__name__)
RAW_TABLES = ("checks", "api_calls")


@dataclass
class Dropped:
    raw_table: str
    chunks: int
    dropped_before: datetime | None


async def apply(
    conn: asyncpg.Connection, now: datetime, retention_days: int, timezone_name: str, rollup_grace: timedelta
) -> list[Dropped]:
    """Drop raw chunks that end before now - retention_days; keep rollups and maintenance slots."""
    cutoff = now - timedelta(days=retention_days)
    results = []
    async with rollups.retention_boundary(conn, timezone_name, now, rollup_grace):
        for raw_table in RAW_TABLES:
            chunks = {r["chunk"]: r["range_end"] for r in await conn.fetch(queries.CHUNKS, raw_table)}
            expiring = [end for end in chunks.values() if end <= cutoff]
            if not expiring:
                results.append(Dropped(raw_table, 0, await conn.fetchval(queries.HORIZON, raw_table)))
                continue
            previous = await conn.fetchval(queries.HORIZON, raw_table)
            if raw_table == "checks":
                await conn.execute(queries.ARCHIVE_MAINTENANCE_SLOTS, previous or rollups.FAR_PAST, max(expiring))
            dropped = [name for (name,) in await conn.fetch(queries.DROP_CHUNKS, raw_table, cutoff)]
            horizon = max((chunks[name] for name in dropped if name in chunks), default=None)
            if horizon is not None:
                await conn.execute(queries.SET_HORIZON, raw_table, horizon)
                await conn.execute(queries.DROP_CHUNKS, queries.FIRST_LEVEL[raw_table], horizon)
                await conn.execute(queries.FORGET_INVALIDATIONS, raw_table, horizon)
            results.append(Dropped(raw_table, len(dropped), horizon or previous))
            log.info(
                "retention: dropped %d %s chunk(s) before %s",
                len(dropped),
                raw_table,
                horizon.isoformat() if horizon else "-",
                extra={"job": "retention"},
            )
    return results
