"""The recurring work of the system as the catalog grows: for each size, the same day of 1-minute checks
and API calls (one of each per service and minute, 00:00-23:54 UTC of the 15th of last month), then
the cost of every recurring job per run and per minute of wall time, as the worker runs them:
- rollup refresh after one new minute (23:54 .. 23:56; every 30 s in the worker, so twice a minute);
- SLO evaluation (every minute): incremental (app/slo/sweep.py) when every service wrote the minute
  (with and without a 5-minute measurement completing), when 10 % did, when none did; baseline in the
  same run: the full evaluation of every service, as the first run after its minute's writes;
- detection (every minute): the same cases, baseline the full sweep;
- notification scan (every 5 s): SLO violations and maintenance windows to events, fan-out, due;
- month close (once a month): freezing every service's report, per service;
- the prober (a child process per size): checks/s against a loopback target and the schedule lag of
  N services at 60 s with 20 % hanging targets, for one interval (benchmarks/bench_prober.py's code);
- memory: resident set of this process (the jobs, and the loader), of the prober child (peak), and
  of the database backends serving the jobs; the database's size.
Prints one JSON line per size, then a summary line. The machine load (`uptime`) goes with it.
usage: python benchmarks/bench_scale.py [SIZES=50,500,2000,10000] [PROBER_S=60]
       env BENCH_SCALE_HOURS=N: only the last N hours of the day (default 24: all of it)
       python benchmarks/bench_scale.py --prober N SECONDS   (the prober child)"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import (
    MINUTE,
    bench_services,
    check_batches,
    connect,
    emit,
    log,
    machine,
    millis,
    scratch_database,
    server_versions,
    settle,
)

from app.config import Settings
from app.db import create_pool
from app.ingest.service import ApiCallRow, write_api_calls, write_checks
from app.notifications import delivery, outbox
from app.periods import month
from app.reports import service as reports
from app.rollups import service as rollups
from app.services import service as services
from app.services.service import sync_catalog
from app.slo import alerts, evaluation, tally
from app.slo import service as slo
from workers import slo as worker_slo
from workers.common import EventPublisher
from workers.detection import sweep_detection
from workers.slo import sweep_slos

SIZES = (50, 500, 2_000, 10_000)
BATCH_ROWS = 50_000
HERE = Path(__file__).resolve().parent


def the_day() -> datetime:
    """00:00 UTC of the 15th of last month: a closed month for the month close, no month boundary."""
    today = datetime.now(timezone.utc)
    first = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=15)


def call_batches(service_ids: list[str], start: datetime, minutes: int, seed: int = 11) -> Iterator[list[ApiCallRow]]:
    """One API call per service and minute, mostly fast 200s, ~1.2 % errors."""
    rng = random.Random(seed)
    batch: list[ApiCallRow] = []
    for minute in range(minutes):
        ts = start + minute * MINUTE
        for service_id in service_ids:
            status = 200 if rng.random() > 0.012 else rng.choice((404, 429, 500, 503))
            at = ts + timedelta(seconds=rng.randint(0, 59))
            batch.append(ApiCallRow(at, service_id, "/v1", "POST", status, int(rng.lognormvariate(5.0, 0.6))))
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def halves(service_ids: list[str]) -> list[list[str]]:
    """The catalog in two parts, loaded on two connections at once (the machine has two cores)."""
    middle = len(service_ids) // 2
    return [part for part in (service_ids[:middle], service_ids[middle:]) if part]


async def load(url: str, service_ids: list[str], day: datetime, minutes: int, end: datetime) -> int:
    """The day's checks and calls of these services through the one writer (COPY in batches); rows written.
    Seeds differ per part, so that the two parts' data differ as the services' would."""
    conn = await connect(url)
    rows = 0
    try:
        seed = len(service_ids) + int(service_ids[0].rsplit("-", 1)[1])
        for batch in check_batches(service_ids, day, minutes, BATCH_ROWS, seed=seed):
            rows += (await write_checks(conn, batch, now=end)).accepted
        for calls in call_batches(service_ids, day, minutes, seed=seed):
            rows += (await write_api_calls(conn, calls, now=end)).accepted
    finally:
        await conn.close()
    return rows


async def catalog_sync(conn, count: int) -> dict:
    """`slamon migrate`'s catalog sync of the whole catalog: unchanged, and with every name changed."""
    catalog = bench_services(count)
    unchanged_s, _ = await timed(lambda: sync_catalog(conn, catalog))
    renamed = [svc.model_copy(update={"name": f"{svc.name} (renamed)"}) for svc in catalog]
    renamed_s, result = await timed(lambda: sync_catalog(conn, renamed))
    assert len(result.updated) == count
    return {"unchanged_ms": millis(unchanged_s), "every_service_changed_ms": millis(renamed_s)}


def fleet_assignment(count: int, probers: int = 3) -> dict:
    """The prober's fleet assignment for `count` services among `probers` live members of a region:
    which slots are this prober's (Scheduler.assigned_count, every heartbeat) and the catch-up scan
    after a member lapsed (Scheduler.catch_up_candidates)."""
    from prober.client import ProbeContext
    from prober.models import Target
    from prober.rendezvous import Member, View
    from prober.scheduler import Scheduler

    now = time.time()
    members = tuple(Member(f"prober-{i}", now - 3600, now + 60) for i in range(probers))
    view = View(members, now)
    scheduler = Scheduler("prober-0", ProbeContext(), lambda *a: None, view=lambda: view)
    targets = [Target(f"svc-{i:05d}", "http", "http://127.0.0.1:9/", interval_s=60, timeout_s=10) for i in range(count)]
    t = time.perf_counter()
    scheduler.set_targets(targets)
    set_s = time.perf_counter() - t
    t = time.perf_counter()
    assigned = scheduler.assigned_count()
    assigned_s = time.perf_counter() - t
    scheduler.started_at = 0.0  # a prober up for long: every current slot may be caught up
    scheduler.last_popped = dict.fromkeys((t.service_id for t in targets), 2**62)
    lapsed = View((members[0], members[1], Member("prober-2", now - 3600, now - 1)), now)
    t = time.perf_counter()
    taken = scheduler.catch_up_candidates(lapsed)
    catch_up_s = time.perf_counter() - t
    return {
        "probers": probers,
        "set_targets_ms": millis(set_s),
        "assigned_count_ms": millis(assigned_s),
        "assigned": assigned,
        "catch_up_scan_ms": millis(catch_up_s),
        "catch_up_taken": len(taken),
    }


async def write_minute(conn, service_ids: list[str], minute: datetime, seed: int) -> None:
    checks = [r for batch in check_batches(service_ids, minute, 1, BATCH_ROWS, seed=seed) for r in batch]
    await write_checks(conn, checks, now=minute + timedelta(seconds=1))
    calls = [r for batch in call_batches(service_ids, minute, 1, seed=seed) for r in batch]
    await write_api_calls(conn, calls, now=minute + timedelta(seconds=59))


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    t = time.perf_counter()
    result = await work()
    return time.perf_counter() - t, result


SLO_PARTS_ROUNDS = 3


async def sweep_parts(conn: Any, ctx: dict, now: datetime, period: Any, zone: str) -> dict:
    """Two parts of the incremental SLO sweep (workers/slo.py) at `now` (a measurement completing),
    each the old way and the new way in the same state, alternately, SLO_PARTS_ROUNDS times (means):
    - announcing every service's report: one `sla-metrics-updated` per service, 8 in flight (as
      before issue 18's batching), against the run's batched events (`announce`);
    - the violation rules: every kept measurement of the 7-hour look-back read and judged (as
      before), against `tally.verdicts` continuing the folds kept at the previous measurement."""
    active = list(await services.list_active(conn))
    ids = [s["id"] for s in active]
    reports = await slo.reports(conn, active, period, now, zone)
    found: dict[str, Any] = {sid: [] for sid in ids}
    publisher = ctx["publisher"]
    redis = publisher.publisher.redis

    async def forget() -> None:
        async for key in redis.scan_iter(f"{publisher.publisher.channel}:slo-digest:svc-*"):
            await redis.delete(key)

    async def per_service() -> None:
        in_flight = asyncio.Semaphore(8)

        async def one(sid: str) -> None:
            async with in_flight:
                data = {"serviceId": sid, "metrics": worker_slo.encode(reports[sid]), "changes": []}
                await publisher.publish("sla-metrics-updated", data, worker_slo.ROOMS)

        await publisher.changed_many({f"slo-digest:{sid}": worker_slo.digest(reports[sid]) for sid in ids})
        await asyncio.gather(*(one(sid) for sid in ids))

    end = evaluation.bucket_floor(now)
    horizon = end - evaluation.LOOKBACK

    async def lookback() -> None:
        series = await tally._kept_series(conn, dict.fromkeys(ids, horizon), end)
        for s in active:
            for rule in evaluation.service_rules(s):
                alerts.judge(rule, series[s["id"]][rule.slo])

    await tally.verdicts(conn, active, now - alerts.BUCKET)  # the folds as the previous run left them
    await conn.execute("CREATE TEMP TABLE bench_runs AS SELECT * FROM slo_tally_runs")

    async def folded() -> None:
        await tally.verdicts(conn, active, now)

    async def restore() -> None:
        await conn.execute("DELETE FROM slo_tally_runs; INSERT INTO slo_tally_runs SELECT * FROM bench_runs")

    cases = {
        "announce_per_service": (forget, per_service),
        "announce_batched": (forget, lambda: worker_slo.announce(publisher, reports, found, now)),
        "rules_lookback": (restore, lookback),
        "rules_folded": (restore, folded),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(SLO_PARTS_ROUNDS):
        for name, (prepare, work) in cases.items():
            await prepare()
            samples[name].append((await timed(work))[0])
    await conn.execute("DROP TABLE bench_runs")
    return {name: millis(statistics.fmean(values)) for name, values in samples.items()} | {"services": len(ids)}


def per_minute(run_s: float, runs_per_minute: float) -> dict:
    """A job's cost per run and per minute of wall time (as a share of one core's minute)."""
    busy_s = run_s * runs_per_minute
    return {"run_ms": millis(run_s), "per_min_ms": millis(busy_s), "core_share_pct": round(busy_s / 60 * 100, 2)}


def rss_mib(pid: int | str = "self") -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def uptime() -> str:
    """The machine's load, recorded with the figures (a shared 2-core machine)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def prober(count: int, seconds: float) -> dict:
    """The prober's figures for `count` services, measured in a child process (its own memory)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--prober", str(count), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


async def prober_child(count: int, seconds: float) -> None:
    import multiprocessing

    import bench_prober as bp

    from prober.client import ProbeContext

    bp.SERVICES, bp.LAG_RUN_S, bp.THROUGHPUT_S = count, seconds, 5.0
    bp._raise_fd_limit()
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=bp._serve, args=(ports,), daemon=True)
    server.start()
    ok_port, hang_port = ports.get(timeout=30)
    ctx = ProbeContext()
    try:
        checks_per_s, _ = await bp.throughput(ctx, f"http://127.0.0.1:{ok_port}/ok")
        lags, outcomes, missed = await bp.scheduled_lag(ctx, bp._targets(ok_port, hang_port))
    finally:
        await ctx.close()
        server.kill()
    print(
        json.dumps(
            {
                "checks_per_s": round(checks_per_s, 1),
                "scheduled_checks_finished": len(lags),
                "outcomes": outcomes,
                "missed_slots": missed,
                "lag_p50_s": bp._pct(lags, 0.5),
                "lag_p99_s": bp._pct(lags, 0.99),
                "lag_max_s": round(max(lags), 4) if lags else None,
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


async def measure(count: int, prober_s: float, hours: int) -> dict:
    day = the_day()
    end = day + timedelta(hours=23, minutes=54)
    start = max(day, end - timedelta(hours=hours))
    minutes = int((end - start) / MINUTE)
    async with scratch_database("scale", count) as (url, service_ids):
        conn = await connect(url)
        settings = Settings(database_url=url)
        zone = settings.timezone
        t0 = time.perf_counter()
        rows = sum(await asyncio.gather(*(load(url, part, start, minutes, end) for part in halves(service_ids))))
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        await rollups.refresh(conn, zone, end + 5 * MINUTE)
        materialise_s = time.perf_counter() - t0
        log(f"{count} services: {rows} rows in {load_s:.0f} s, materialised in {materialise_s:.0f} s")
        await settle(conn)
        pool = await create_pool(settings, min_size=1, max_size=4)
        ctx = {"settings": settings, "pool": pool, "publisher": EventPublisher(settings), "job_try": 1}
        database = url.rsplit("/", 1)[1]
        backends = [r["pid"] for r in await pool.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)]
        try:
            samples: dict[str, list[float]] = {}

            def add(name: str, seconds: float) -> None:
                samples.setdefault(name, []).append(seconds)
                log(f"{count} services: {name} {seconds if name.endswith('_services') else millis(seconds)}")

            # As a running worker leaves things: detection has judged every service (its first run after
            # the load, not measured); the SLO job evaluated every service at 23:53:45, its first run
            # (a new month's: every service due, every kept figure of app/slo/tally.py counted from raw
            # rows), timed as `first_run`.
            await sweep_detection(ctx, end - MINUTE + timedelta(seconds=15))
            period = month(day.year, day.month, ZoneInfo(zone))
            await conn.execute("DELETE FROM job_cursors WHERE job = 'slo'")
            add("slo_first", (await timed(lambda: sweep_slos(ctx, end - MINUTE + timedelta(seconds=45))))[0])

            rng = random.Random(count)
            # 23:54: every service wrote, the full evaluation (the baseline, first run of its minute);
            # 23:55 (a 5-minute measurement completes at 23:55:45) and 23:56: every service wrote, the
            # incremental runs; 23:57: a tenth of the services wrote; 23:58: none did.
            plan = [("full", service_ids), ("completing", service_ids), ("all", service_ids)]
            plan += [("tenth", rng.sample(service_ids, max(1, count // 10))), ("none", [])]
            for k, (case, writers) in enumerate(plan):
                minute = end + k * MINUTE
                if writers:
                    await write_minute(conn, writers, minute, seed=k)
                if len(writers) == count:
                    add("refresh", (await timed(lambda m=minute: rollups.refresh(conn, zone, m + 6 * MINUTE)))[0])
                full = case == "full"
                detect_at, slo_at = minute + timedelta(seconds=15), minute + timedelta(seconds=45)
                s, found = await timed(lambda t=detect_at, f=full: sweep_detection(ctx, t, full=f))
                add(f"detect_{case}", s)
                add(f"detect_{case}_services", len(found))
                s, found = await timed(lambda t=slo_at, f=full: sweep_slos(ctx, t, full=f))
                add(f"slo_{case}", s)
                add(f"slo_{case}_services", len(found))

                async def scan(m: datetime = minute) -> None:
                    async with pool.acquire() as c:
                        await outbox.scan(c, m + timedelta(seconds=50), settings.notify_horizon_s)
                        await delivery.dispatch(c)
                        await delivery.due(c)

                add("notify_scan", (await timed(scan))[0])
            parts = await sweep_parts(conn, ctx, end + timedelta(minutes=1, seconds=45), period, zone)
            log(f"{count} services: parts of the sweep, old and new: {parts}")
            backend_rss = [rss_mib(pid) for pid in backends]
            worker_rss = rss_mib()
            after = period.end + timedelta(hours=1)
            close_s, closed = await timed(lambda: reports.close_month(conn, period, after, zone))
            log(f"{count} services: month close {close_s:.1f} s for {len(closed)}")
            sync = await catalog_sync(conn, count)
            db_size = await conn.fetchval("SELECT pg_database_size(current_database())")
            versions = await server_versions(conn)
        finally:
            redis = ctx["publisher"].publisher.redis
            async for key in redis.scan_iter(f"{ctx['publisher'].publisher.channel}:slo-digest:svc-*"):
                await redis.delete(key)
            await ctx["publisher"].close()
            await pool.close()
            await conn.close()
    log(f"{count} services: jobs measured; the prober next ({prober_s:.0f} s)")
    probe = prober(count, prober_s)

    def med(name: str) -> float:  # the mean: what the job costs a minute on average
        return statistics.fmean(samples[name])

    def sweep_figures(job: str) -> dict:
        def case(name: str) -> dict:
            return per_minute(med(f"{job}_{name}"), 1) | {"services": int(med(f"{job}_{name}_services"))}

        # steady state, every service writing every minute: one minute in five completes a measurement
        steady = (med(f"{job}_completing") + 4 * med(f"{job}_all")) / 5
        return {
            "all_wrote": case("all"),
            "all_wrote_measurement_completing": case("completing"),
            "all_wrote_average": per_minute(steady, 1),
            "tenth_wrote": case("tenth"),
            "none_wrote": case("none"),
            "baseline_full": case("full"),
        } | ({"first_run": per_minute(med("slo_first"), 1)} if job == "slo" else {})

    return {
        "bench": "scale",
        "services": count,
        "hours_loaded": round(minutes / 60, 1),
        "rows_loaded": rows,
        "load_s": round(load_s, 1),
        "materialise_s": round(materialise_s, 1),
        "refresh_after_one_minute": per_minute(med("refresh"), 2) | {"max_ms": millis(max(samples["refresh"]))},
        "slo_evaluation": sweep_figures("slo"),
        "slo_sweep_parts_ms": parts,
        "detection": sweep_figures("detect"),
        "notification_scan": per_minute(med("notify_scan"), 12),
        "month_close": {
            "s": round(close_s, 2),
            "per_service_ms": millis(close_s / max(1, len(closed))),
            "services_closed": len(closed),
        },
        "prober": probe,
        "catalog_sync": sync,
        "fleet_assignment": fleet_assignment(count),
        "rss_mib": {
            "bench_process_jobs_and_loader": worker_rss,
            "db_backends": backend_rss,
            "prober_peak": probe["peak_rss_mib"],
        },
        "database_mib": round(db_size / 2**20, 1),
        "server": versions,
    }


async def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--prober":
        await prober_child(int(sys.argv[2]), float(sys.argv[3]))
        return
    sizes = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else list(SIZES)
    prober_s = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    hours = int(os.environ.get("BENCH_SCALE_HOURS", 24))
    load_at_start = uptime()
    results = []
    for count in sizes:
        result = await measure(count, prober_s, hours)
        result["uptime_after"] = uptime()
        emit(result)
        results.append(result)
    summary = {
        "bench": "scale-summary",
        "uptime_at_start": load_at_start,
        "machine": machine(),
        "per_minute_core_share_pct": {
            str(r["services"]): {
                "refresh": r["refresh_after_one_minute"]["core_share_pct"],
                "slo_all_wrote": r["slo_evaluation"]["all_wrote_average"]["core_share_pct"],
                "detection_all_wrote": r["detection"]["all_wrote_average"]["core_share_pct"],
                "notification_scan": r["notification_scan"]["core_share_pct"],
                "total": round(
                    r["refresh_after_one_minute"]["core_share_pct"]
                    + r["slo_evaluation"]["all_wrote_average"]["core_share_pct"]
                    + r["detection"]["all_wrote_average"]["core_share_pct"]
                    + r["notification_scan"]["core_share_pct"],
                    2,
                ),
            }
            for r in results
        },
    }
    emit(summary)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    os.chdir(HERE.parent)
    asyncio.run(main())
