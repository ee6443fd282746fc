"""The month close of a large catalog: the batched close (reports.close_month, CLOSE_BATCH services per
snapshot and per statement) beside the one-service-at-a-time path it replaced, in the same run; one
JSON line.

N services (default 10,000) with HOURS hours of data (default 2) on the 15th of last month, UTC: one
check and one API call per service and minute, written straight into the raw tables with
generate_series (not through the ingest module: the figures, not the load, are measured here), their
ranges logged for the rollups as the ingest does, rollups refreshed, VACUUM ANALYZE. Then, on a
connection with the worker's session settings (app/db.py SESSION_SETTINGS):
- baseline: the first K services (default 1,000) closed the way the close did before batching: per
  service, one repeatable-read snapshot, its report computed alone (figures.compute: the same dozen
  statements a service), revision 1 inserted and audited; per-service time and the whole catalog at
  that rate. Those snapshots are then emptied (TRUNCATE: the table refuses DELETE);
- the batched close of the whole catalog, then the same close again (nothing to do);
- the K baseline reports compared with the batched ones, byte for byte.
Besides wall times, the CPU time of the bench process and of its database backend together
(/proc/PID/stat): about what a quiet machine's wall time would be, less I/O waits.
Usage: bench_month_close.py [N [HOURS [K]]]; env BENCH_CLOSE_SERVICES, BENCH_CLOSE_HOURS,
BENCH_CLOSE_BASELINE; BENCH_CLOSE_BATCH overrides reports.CLOSE_BATCH."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import asyncpg

from common import connect, emit, int_setting, log, machine, millis, scratch_database, server_versions, settle

from app import db
from app.audit import service as audit
from app.periods import month
from app.reports import figures as report_figures
from app.reports import queries as report_queries
from app.reports import service as reports
from app.rollups import service as rollups

ZONE = "UTC"
LOAD_SERVICES = 500  # services per INSERT ... SELECT

CHECKS = """
INSERT INTO checks (ts, service_id, region, ok, status_code, latency_ms, error_type)
SELECT t, s.id, 'default', h % 97 <> 0, CASE WHEN h % 97 <> 0 THEN 200 ELSE 503 END, 20 + h % 480,
       CASE WHEN h % 97 = 0 THEN 'http_error' END
FROM unnest($1::text[]) AS s(id), generate_series($2::timestamptz, $3::timestamptz - interval '1 minute',
                                                  interval '1 minute') AS t,
     LATERAL (SELECT abs(hashtext(s.id || t::text)) AS h) x
"""

CALLS = """
INSERT INTO api_calls (ts, service_id, endpoint, method, status_code, latency_ms)
SELECT t + make_interval(secs => h % 60), s.id, '/v1', 'POST',
       CASE WHEN h % 83 = 0 THEN 500 WHEN h % 89 = 0 THEN 404 ELSE 200 END, 30 + (h % 991) * (1 + h % 5) / 4
FROM unnest($1::text[]) AS s(id), generate_series($2::timestamptz, $3::timestamptz - interval '1 minute',
                                                  interval '1 minute') AS t,
     LATERAL (SELECT abs(hashtext(s.id || t::text || 'c')) AS h) x
"""


def the_day() -> datetime:
    """00:00 UTC of the 15th of last month: a closed month, no month boundary (as bench_scale.py)."""
    first = datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=15)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (/proc/PID/stat; the server runs on this machine)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(conn) -> float:
    """CPU seconds of this process and of the connection's database backend together."""
    return time.process_time() + cpu_s(conn.get_server_pid())


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


async def load(conn, service_ids: list[str], start: datetime, end: datetime) -> int:
    rows = 0
    for lo in range(0, len(service_ids), LOAD_SERVICES):
        part = service_ids[lo : lo + LOAD_SERVICES]
        async with conn.transaction():
            for statement, raw_table in ((CHECKS, "checks"), (CALLS, "api_calls")):
                rows += int((await conn.execute(statement, part, start, end)).split()[-1])
                await rollups.log_invalidations(conn, raw_table, {sid: (start, end) for sid in part})
    return rows


async def close_one_by_one(conn, services: list, period, now: datetime) -> dict[str, str]:
    """The close before batching: each service in its own snapshot, its figures computed alone."""
    frozen = {}
    for service in services:

        async def freeze(service=service) -> None:
            figures = await report_figures.compute(conn, service, period, now, ZONE)
            text = reports._dump(figures)
            await conn.fetchrow(report_queries.INSERT_FIRST, service["id"], period.first_day, ZONE, text)
            await audit.record(
                conn,
                "report.closed",
                actor_name="month close",
                target_type="report",
                target_id=f"{service['id']}/{period.label}",
                details={"revision": 1},
            )
            frozen[service["id"]] = text

        await rollups.in_snapshot(conn, freeze)
    return frozen


async def main() -> None:
    count = int_setting(1, "BENCH_CLOSE_SERVICES", 10_000)
    hours = int_setting(2, "BENCH_CLOSE_HOURS", 2)
    baseline_n = min(count, int_setting(3, "BENCH_CLOSE_BASELINE", 1_000))
    if os.environ.get("BENCH_CLOSE_BATCH"):
        reports.CLOSE_BATCH = int(os.environ["BENCH_CLOSE_BATCH"])
    day = the_day()
    start, end = day, day + timedelta(hours=hours)
    period = month(day.year, day.month, ZoneInfo(ZONE))
    now = period.end + timedelta(days=1)
    load_at_start = uptime()
    async with scratch_database("month_close", count) as (url, service_ids):
        conn = await connect(url)
        try:
            t0 = time.perf_counter()
            rows = await load(conn, service_ids, start, end)
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            await rollups.refresh(conn, ZONE, end + timedelta(minutes=10))
            materialise_s = time.perf_counter() - t0
            log(f"{count} services: {rows} rows in {load_s:.0f} s, materialised in {materialise_s:.0f} s")
            await settle(conn)
            await conn.close()
            # The worker's session settings (app/db.py: generic plans, no parallel workers, no JIT).
            conn = await asyncpg.connect(
                url, server_settings={**db.SESSION_SETTINGS, "application_name": "slamon-bench"}
            )
            services = await conn.fetch(report_queries.SERVICES_TO_CLOSE, period.start, period.end)

            log(f"baseline: {baseline_n} services one by one")
            t0, cpu0 = time.perf_counter(), cpu_of(conn)
            one_by_one = await close_one_by_one(conn, services[:baseline_n], period, now)
            baseline_s, baseline_cpu_s = time.perf_counter() - t0, cpu_of(conn) - cpu0
            await conn.execute("TRUNCATE report_snapshots CASCADE")
            await conn.execute("DELETE FROM audit_log WHERE action = 'report.closed'")
            uptime_between = uptime()

            log(f"batched close of {count} services (CLOSE_BATCH={reports.CLOSE_BATCH})")
            t0, cpu0 = time.perf_counter(), cpu_of(conn)
            closed = await reports.close_month(conn, period, now, ZONE)
            close_s, close_cpu_s = time.perf_counter() - t0, cpu_of(conn) - cpu0
            t0 = time.perf_counter()
            again = await reports.close_month(conn, period, now, ZONE)
            again_s = time.perf_counter() - t0

            batched = {
                r["service_id"]: r["figures"]
                for r in await conn.fetch(
                    "SELECT service_id, figures::text AS figures FROM report_snapshots WHERE service_id = ANY($1)",
                    list(one_by_one),
                )
            }
            identical = sum(batched.get(sid) == text for sid, text in one_by_one.items())
            versions = await server_versions(conn)
        finally:
            await conn.close()
    baseline_per_service_ms = millis(baseline_s / baseline_n)
    emit(
        {
            "bench": "month_close",
            "services": count,
            "hours_loaded": hours,
            "rows_loaded": rows,
            "load_s": round(load_s, 1),
            "materialise_s": round(materialise_s, 1),
            "close_batch": reports.CLOSE_BATCH,
            "month_close_s": round(close_s, 2),
            "month_close_per_service_ms": millis(close_s / count),
            "month_close_cpu_s": round(close_cpu_s, 2),
            "services_closed": len(closed),
            "month_close_again_s": round(again_s, 3),
            "closed_again": len(again),
            "baseline_one_by_one": {
                "services": baseline_n,
                "s": round(baseline_s, 2),
                "per_service_ms": baseline_per_service_ms,
                "cpu_per_service_ms": millis(baseline_cpu_s / baseline_n),
                "whole_catalog_at_that_rate_s": round(baseline_per_service_ms * count / 1000, 1),
            },
            "speedup": round(baseline_per_service_ms / millis(close_s / count), 1) if close_s else None,
            "identical_to_baseline": f"{identical}/{len(one_by_one)}",
            "uptime_at_start": load_at_start,
            "uptime_before_batched": uptime_between,
            "uptime_after": uptime(),
            "server": versions,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
