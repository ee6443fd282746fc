"""Ingest throughput into `checks`: the ingest module (`write_checks`: validate, COPY to a staging
table, INSERT ... ON CONFLICT DO NOTHING, log invalidations) against a plain executemany INSERT of
the same rows into the same, emptied table; then the replay case (every row a duplicate).

Each contender is timed `ROUNDS` times, each from an empty table; the best round is reported.

usage: bench_ingest.py [ROWS [BATCH_ROWS [ROUNDS]]]
       (env BENCH_INGEST_ROWS=500000, BENCH_INGEST_BATCH=5000, BENCH_INGEST_ROUNDS=2)
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from common import (
    check_batches,
    connect,
    emit,
    floor_minute,
    int_setting,
    log,
    machine,
    rate,
    scratch_database,
    server_versions,
    utc_now,
)

from app.ingest import queries
from app.ingest.service import validate_checks, write_checks

GOAL_ROWS_PER_S = 100_000
PLAIN_INSERT = (
    f"INSERT INTO checks ({', '.join(queries.CHECK_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(queries.CHECK_COLUMNS) + 1))})"
)
EMPTY_TABLES = "TRUNCATE checks, rollup_invalidations"


async def _empty(conn) -> None:
    """Fresh table state for the next contender: no chunks, and no checkpoint debt from the last one."""
    await conn.execute(EMPTY_TABLES)
    await conn.execute("CHECKPOINT")


async def _timed_ingest(conn, batches, now) -> tuple[float, int, int]:
    accepted = duplicates = 0
    started = time.perf_counter()
    for batch in batches:
        result = await write_checks(conn, batch, now=now)
        accepted += result.accepted
        duplicates += result.duplicates
    return time.perf_counter() - started, accepted, duplicates


async def _timed_executemany(conn, batches) -> float:
    started = time.perf_counter()
    for batch in batches:
        await conn.executemany(PLAIN_INSERT, batch)
    return time.perf_counter() - started


async def _timed_two_writers(url, batches, now) -> float:
    """Two connections sharing the batches, as two prober sinks would."""
    conns = [await connect(url) for _ in range(2)]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(_timed_ingest(c, batches[i::2], now) for i, c in enumerate(conns)))
        return time.perf_counter() - started
    finally:
        for c in conns:
            await c.close()


async def _round(url, batches, now, rows) -> dict[str, float]:
    """One timing of every contender, each from an empty table; seconds per contender."""
    conn = await connect(url)
    try:
        await _empty(conn)
        seconds = {}
        seconds["ingest"], accepted, _ = await _timed_ingest(conn, batches, now)
        log(f"write_checks: {rate(rows, seconds['ingest'])} rows/s ({accepted} accepted)")
        seconds["replay"], replay_accepted, duplicates = await _timed_ingest(conn, batches, now)
        log(f"replay: {rate(rows, seconds['replay'])} rows/s ({duplicates} duplicates)")
        stored = await conn.fetchval("SELECT count(*) FROM checks")
        if accepted != rows or replay_accepted != 0 or stored != rows:
            raise SystemExit(f"ingest wrote {accepted}/{rows} rows, replay {replay_accepted}, table holds {stored}")
        await _empty(conn)
        seconds["executemany"] = await _timed_executemany(conn, batches)
        log(f"executemany: {rate(rows, seconds['executemany'])} rows/s")
        await _empty(conn)
    finally:
        await conn.close()
    seconds["ingest_2conn"] = await _timed_two_writers(url, batches, now)
    log(f"write_checks, 2 connections: {rate(rows, seconds['ingest_2conn'])} rows/s")
    return seconds


async def main() -> None:
    rows_wanted = int_setting(1, "BENCH_INGEST_ROWS", 500_000)
    batch_rows = int_setting(2, "BENCH_INGEST_BATCH", 5_000)
    rounds = int_setting(3, "BENCH_INGEST_ROUNDS", 2)
    async with scratch_database("ingest") as (url, service_ids):
        minutes = -(-rows_wanted // len(service_ids))
        now = floor_minute(utc_now())
        start = now - minutes * timedelta(minutes=1)
        batches = list(check_batches(service_ids, start, minutes, batch_rows))
        rows = sum(len(b) for b in batches)
        log(f"{rows} rows in {len(batches)} batches of ~{batch_rows}, {len(service_ids)} services, {minutes} minutes")

        started = time.perf_counter()
        for batch in batches:
            validate_checks(batch, now, timedelta(minutes=5))
        validate_s = time.perf_counter() - started

        conn = await connect(url)
        versions = await server_versions(conn)
        await conn.close()
        # Best of `rounds`: the figure is the code's speed, not a noisy neighbour's.
        samples = [await _round(url, batches, now, rows) for _ in range(rounds)]
        best = {name: min(s[name] for s in samples) for name in samples[0]}

    emit(
        {
            "bench": "ingest",
            "rows": rows,
            "batch_rows": batch_rows,
            "services": len(service_ids),
            "rounds": rounds,
            "ingest_rows_per_s": rate(rows, best["ingest"]),
            "executemany_rows_per_s": rate(rows, best["executemany"]),
            "replay_rows_per_s": rate(rows, best["replay"]),
            "ingest_2conn_rows_per_s": rate(rows, best["ingest_2conn"]),
            "validate_only_rows_per_s": rate(rows, validate_s),
            "goal_rows_per_s": GOAL_ROWS_PER_S,
            "postgres": versions["postgres"],
            "timescaledb": f"{versions['timescaledb']} {versions['license']}",
            **machine(),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
