"""Prober throughput and schedule lag; prints ONE JSON line.

1. checks/s: one process running bounded-concurrency checks (fresh connection each, as in
   production) against a local target, for a fixed time; baseline: a naive sequential aiohttp loop.
2. schedule lag at 10,000 services on 60 s intervals with 20 % of targets hanging (never answering,
   30 s timeout): the real Scheduler for one interval, lag = check start - slot; baseline: a naive
   sequential loop walking the same schedule.
Targets run in a child process on loopback (so the prober's core is measured alone); results go to
a sink that discards them (the database path is benchmarked by the ingest's own benchmark).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from prober.checks import run_check  # noqa: E402
from prober.client import ProbeContext  # noqa: E402
from prober.models import Target  # noqa: E402
from prober.scheduler import Scheduler  # noqa: E402

THROUGHPUT_S = 10.0
BASELINE_S = 5.0
SERVICES = 10_000
INTERVAL_S = 60
HANGING_SHARE = 0.2
LAG_RUN_S = 60.0


def _serve(ports):
    from aiohttp import web

    async def main():
        async def ok(request):
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_get("/ok", ok)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()

        async def hang(reader, writer):
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass

        hanging = await asyncio.start_server(hang, "127.0.0.1", 0, backlog=4096)
        ports.put((site._server.sockets[0].getsockname()[1], hanging.sockets[0].getsockname()[1]))
        await asyncio.Event().wait()

    _raise_fd_limit()
    asyncio.run(main())


def _raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _pct(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))], 4)


async def throughput(ctx, url, concurrency=256):
    target = Target("bench", "http", url, allow_private=True, timeout_s=10)
    done = 0
    failures = 0
    deadline = time.monotonic() + THROUGHPUT_S

    async def worker():
        nonlocal done, failures
        while time.monotonic() < deadline:
            result = await run_check(target, ctx)
            done += 1
            failures += not result.ok

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - started), failures


async def naive_throughput(url):
    done = 0
    deadline = time.monotonic() + BASELINE_S
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        while time.monotonic() < deadline:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=30)) as response:
                await response.read()
            done += 1
    return done / (time.monotonic() - started)


def _targets(ok_port, hang_port):
    targets = []
    for i in range(SERVICES):
        hanging = i % int(1 / HANGING_SHARE) == 0
        url = f"http://127.0.0.1:{hang_port}/" if hanging else f"http://127.0.0.1:{ok_port}/ok"
        targets.append(Target(f"svc-{i:05d}", "http", url, interval_s=INTERVAL_S, timeout_s=30, allow_private=True))
    return targets


async def scheduled_lag(ctx, targets):
    lags, outcomes = [], {"ok": 0, "timeout": 0, "other": 0}

    def on_result(target, slot, result, lag_s):
        lags.append(lag_s)
        outcomes["ok" if result.ok else ("timeout" if result.error_type == "timeout" else "other")] += 1

    scheduler = Scheduler("bench", ctx, on_result, max_concurrency=4000)
    scheduler.set_targets(targets)
    runner = asyncio.create_task(scheduler.run())
    await asyncio.sleep(LAG_RUN_S)
    await scheduler.stop(grace_s=0)
    runner.cancel()
    return lags, outcomes, scheduler.missed_slots


async def naive_lag(targets):
    """A sequential loop over the same slots for 15 s: each check waits for the previous one. Slots that
    fell due but never started count with the lag they had reached when the run ended."""
    from prober.schedule import offset_s, slot_after

    now = time.time()
    queue = sorted(
        ((slot_after(now, t.interval_s, offset_s(t.service_id, t.interval_s)), t) for t in targets),
        key=lambda pair: pair[0],
    )
    lags = []
    deadline = time.monotonic() + 15
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        for slot, target in queue:
            if time.monotonic() > deadline:
                break
            delay = slot - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append(time.time() - slot)
            try:
                async with session.get(target.url, timeout=aiohttp.ClientTimeout(total=30)) as response:
                    await response.read()
            except (aiohttp.ClientError, TimeoutError):
                pass
    started = len(lags)
    end = time.time()
    lags += [end - slot for slot, _ in queue[started:] if slot <= end]
    return started, lags


async def main():
    _raise_fd_limit()
    ports = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    ok_port, hang_port = ports.get(timeout=30)
    ok_url = f"http://127.0.0.1:{ok_port}/ok"
    ctx = ProbeContext()
    try:
        rate, failures = await throughput(ctx, ok_url)
        naive_rate = await naive_throughput(ok_url)
        targets = _targets(ok_port, hang_port)
        lags, outcomes, missed = await scheduled_lag(ctx, targets)
        naive_started, naive = await naive_lag(targets)
    finally:
        await ctx.close()
        server.kill()
    print(
        json.dumps(
            {
                "benchmark": "prober",
                "sink": "discard",
                "targets": "aiohttp server + never-answering TCP server in a child process on 127.0.0.1",
                "checks_per_s": round(rate, 1),
                "check_failures": failures,
                "baseline_naive_sequential_checks_per_s": round(naive_rate, 1),
                "services": SERVICES,
                "interval_s": INTERVAL_S,
                "hanging_share": HANGING_SHARE,
                "scheduled_checks_finished": len(lags),
                "scheduled_outcomes_finished": outcomes,
                "missed_slots": missed,
                "lag_p50_s": _pct(lags, 0.5),
                "lag_p99_s": _pct(lags, 0.99),
                "lag_max_s": round(max(lags), 4) if lags else None,
                "baseline_naive_checks_started": naive_started,
                "baseline_naive_slots_due_in_15s": len(naive),
                "baseline_naive_lag_p50_s": _pct(naive, 0.5),
                "baseline_naive_lag_p99_s": _pct(naive, 0.99),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
