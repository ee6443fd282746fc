"""The catalog sync of `slamon migrate` (services.sync_catalog) for a large services.toml, beside the
code it replaced, in the same run; one JSON line.

A scratch database with N services (default 10,000) synced; then, ROUNDS times each, alternating: the
catalog unchanged, every service renamed, renamed back; for the current code and for the baseline
(the SYNC statement of before sql/330, every row of the file given to the INSERT, and sql/180's row
trigger services_jobs put back for its turns), each sync on a new connection as `slamon migrate`
runs it. Per case the median and the worst wall time, and the median CPU time of the bench process
and of the sync's database backend together (/proc/PID/stat, 10 ms ticks): what a quiet machine's
wall time would be, less I/O waits, on a loaded one. And the phases of one sync of the current code (in a transaction
rolled back): building the columns in Python, the upsert statement, the look for services the file
dropped.
Usage: bench_catalog_sync.py [N [ROUNDS]]; env BENCH_SYNC_SERVICES, BENCH_SYNC_ROUNDS."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time

from common import bench_services, connect, emit, int_setting, log, machine, millis, scratch_database, server_versions

from app.services import queries
from app.services import service as catalog

# The upsert before sql/330 (commit 7c40a8d's app/services/queries.py): every row reaches the INSERT.
BASELINE_SYNC = queries.SYNC.replace(
    queries.SYNC[queries.SYNC.index("changed AS (") : queries.SYNC.index("upserted AS (")],
    "before AS (SELECT s.id, s.interval_s, s.latency_target_ms FROM services s JOIN wanted USING (id)),\n",
).replace("    FROM changed\n", "    FROM wanted\n")
ROW_TRIGGER = """
DROP TRIGGER services_jobs_insert ON services;
DROP TRIGGER services_jobs_update ON services;
CREATE TRIGGER services_jobs AFTER INSERT OR UPDATE ON services
    FOR EACH ROW EXECUTE FUNCTION log_config_for_jobs();
"""
STATEMENT_TRIGGERS = """
DROP TRIGGER services_jobs ON services;
CREATE TRIGGER services_jobs_insert AFTER INSERT ON services
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION log_services_for_jobs();
CREATE TRIGGER services_jobs_update AFTER UPDATE ON services
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION log_services_for_jobs();
"""


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (/proc/PID/stat; the server runs on this machine)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


async def main() -> None:
    count = int_setting(1, "BENCH_SYNC_SERVICES", 10_000)
    rounds = int_setting(2, "BENCH_SYNC_ROUNDS", 5)
    load_at_start = uptime()
    async with scratch_database("catalog_sync", 10) as (url, _):
        conn = await connect(url)
        try:
            files = bench_services(count)
            renamed = [svc.model_copy(update={"name": f"{svc.name} (renamed)"}) for svc in files]
            t0 = time.perf_counter()
            await catalog.sync_catalog(conn, files)
            insert_s = time.perf_counter() - t0
            log(f"{count} services inserted in {insert_s:.1f} s")
            samples: dict[str, dict[str, list[float]]] = {"current": {}, "baseline": {}}
            cpu_samples: dict[str, dict[str, list[float]]] = {"current": {}, "baseline": {}}
            for _ in range(rounds):
                for code in ("current", "baseline"):
                    if code == "baseline":
                        await conn.execute(ROW_TRIGGER)
                        queries.SYNC, current_sync = BASELINE_SYNC, queries.SYNC
                    try:
                        for case, services in (("unchanged", files), ("renamed", renamed), ("renamed_back", files)):
                            # A connection of its own, as `slamon migrate` runs the sync: the statement
                            # planned for these arrays (a reused one may turn generic after five runs).
                            fresh = await connect(url)
                            backend = fresh.get_server_pid()
                            try:
                                cpu0, server0, t0 = time.process_time(), cpu_s(backend), time.perf_counter()
                                await catalog.sync_catalog(fresh, services)
                                wall = time.perf_counter() - t0
                                cpu = time.process_time() - cpu0 + cpu_s(backend) - server0
                                samples[code].setdefault(case, []).append(wall)
                                cpu_samples[code].setdefault(case, []).append(cpu)
                            finally:
                                await fresh.close()
                    finally:
                        if code == "baseline":
                            queries.SYNC = current_sync
                            await conn.execute(STATEMENT_TRIGGERS)
            breakdown = {}
            for case, services in (("unchanged", files), ("renamed", renamed)):
                tx = conn.transaction()
                await tx.start()
                t0 = time.perf_counter()
                latest = {svc.id: (position, svc) for position, svc in enumerate(services)}
                rows = [(*catalog._columns(svc), position) for position, svc in latest.values()]
                columns = [list(column) for column in zip(*rows, strict=True)]
                t1 = time.perf_counter()
                changed = await conn.fetch(queries.SYNC, *columns)
                t2 = time.perf_counter()
                await conn.fetch(queries.DEACTIVATE_MISSING, [s.id for s in services])
                t3 = time.perf_counter()
                await tx.rollback()
                breakdown[case] = {
                    "columns_ms": millis(t1 - t0),
                    "upsert_ms": millis(t2 - t1),
                    "deactivate_ms": millis(t3 - t2),
                    "rows_changed": len(changed),
                }
            versions = await server_versions(conn)
        finally:
            await conn.close()
    emit(
        {
            "bench": "catalog_sync",
            "services": count,
            "rounds": rounds,
            "insert_s": round(insert_s, 2),
            **{
                code: {
                    case: {
                        "median_ms": millis(statistics.median(s)),
                        "max_ms": millis(max(s)),
                        "cpu_median_ms": millis(statistics.median(cpu_samples[code][case])),
                    }
                    for case, s in cases.items()
                }
                for code, cases in samples.items()
            },
            "phases_current": breakdown,
            "uptime_at_start": load_at_start,
            "uptime_after": uptime(),
            "server": versions,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
