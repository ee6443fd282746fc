"""Beyond one machine, with real processes on loopback (docs/operations.md, "Scaling"): two API
replicas behind one Redis and one database, two workers on one queue, two probers in one region.

- API: a Socket.IO client of each replica receives the events a write through the other caused, and
  the other replica's very next GET /api/system-status shows the write (app/status/cache.py).
- Workers: a scheduled job's tick runs once, even when one worker stalls across the tick and, back,
  queues the tick it missed (arq's unique cron job ids, kept as results: workers/settings.py).
- Probers: each service's slot is measured once (one request at its target), by whichever prober of
  the region owns it (prober/fleet.py)."""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path

import httpx
from aiohttp import web

from app.config import Settings
from prober.schedule import offset_s
from tests.app.conftest import PASSWORD, create_user
from tests.app.test_realtime import INCIDENT, Client
from tests.app.test_redteam import slamon_api
from tests.conftest import free_port
from tests.prober.conftest import add_services
from tests.workers.conftest import queue_redis_url  # noqa: F401  (a fixture: a Redis database for the queue)

ROOT = Path(__file__).resolve().parents[2]


async def test_two_api_replicas_share_events_and_show_each_others_writes(staff_db, database_url, tmp_path):
    await create_user(staff_db, "replica-reporter", "reporter")
    async with AsyncExitStack() as stack:
        for name in "ab":
            (tmp_path / name).mkdir()
        bases = [await stack.enter_async_context(slamon_api(database_url, tmp_path / name)) for name in "ab"]
        http = [await stack.enter_async_context(httpx.AsyncClient(base_url=b, timeout=30)) for b in bases]
        sockets = []
        for base in bases:
            client = await Client().connect(base)
            stack.push_async_callback(client.sio.disconnect)
            assert (await client.join("incidents"))["ok"] is True
            sockets.append(client)
        for h in http:  # both replicas have built and keep a status body
            assert (await h.get("/api/system-status")).status_code == 200

        for writer, reader in ((0, 1), (1, 0)):
            login = await http[writer].post(
                "/api/auth/login", json={"username": "replica-reporter", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            created = await http[writer].post("/api/incidents", json=INCIDENT, headers=headers)
            assert created.status_code == 201, created.text
            incident = created.json()["incident"]
            # the other replica's next response already counts the open incident
            status = (await http[reader].get("/api/system-status")).json()
            entry = next(s for s in status["services"] if s["id"] == INCIDENT["affected_services"][0])
            assert entry["status"] == ("outage" if incident["priority"] == "P1" else "degraded")
            # and a socket of each replica hears of it, through Redis
            for client in (sockets[reader], sockets[writer]):
                event = await client.next("incident-created", timeout=10)
                assert event["incident"]["id"] == incident["id"]
            resolved = await http[writer].post(
                f"/api/incidents/{incident['id']}/updates",
                headers=headers,
                json={"status": "resolved", "description": "fixed", "version": incident.get("version", 1)},
            )
            assert resolved.status_code == 201, resolved.text
            assert (await sockets[reader].next("incident-updated", timeout=10))["incidentId"] == incident["id"]
            status = (await http[reader].get("/api/system-status")).json()
            entry = next(s for s in status["services"] if s["id"] == INCIDENT["affected_services"][0])
            assert entry["status"] == "operational"


def _worker(database_url: str, redis_url: str, data_dir: Path, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_REDIS_URL": redis_url,
        "SLAMON_DATA_DIR": str(data_dir),
        "SLAMON_LOG_FORMAT": "text",
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


LINE = re.compile(r"^(\S+ \S+),(\d{3}) INFO arq\.worker:\s+([\d.]+)s → cron:(\w+)\(\)", re.M)
TICK_S = 5  # notify_tick's period (workers/notify.py EVERY_5_S)


def _ticks(log_paths: list[Path], job: str, after: float) -> Counter[int]:
    """Scheduled tick -> how many runs of `job` started for it in all the logs, from arq's
    "<delay>s → cron:<job>()" lines (cron lines carry no job id). A tick's job is queued 0.5-1 s
    ahead and deferred to the tick, so the time it was queued (start - delay) + 1 s falls in its
    tick's period; a tick queued again late falls there too."""
    ticks = Counter[int]()
    for path in log_paths:
        for stamp, ms, delay, name in LINE.findall(path.read_text(errors="replace")):
            started = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").timestamp() + int(ms) / 1000
            if name == job and started >= after:
                ticks[int((started - float(delay) + 1) // TICK_S * TICK_S)] += 1
    return ticks


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM, then SIGKILL what has not exited within a minute."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_two_workers_run_each_scheduled_tick_once(conn, database_url, queue_redis_url, tmp_path):
    """notify_tick runs every 5 s. One worker is stopped across a tick (SIGSTOP: a long pause, a
    starved VM) and, resumed, queues the tick it missed; arq keeps a finished cron job's in-progress
    mark for 60 s, so such a late copy would run a minute later: watched that long."""
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    workers = [_worker(database_url, queue_redis_url, tmp_path / f"w{i}", logs[i]) for i in range(2)]
    try:
        await _wait_for(lambda: all("Starting worker" in p.read_text(errors="replace") for p in logs), 90, "workers")
        after = time.time() + 3  # past both workers' runs at start-up (run_at_startup: one each, by design)
        await _wait_for(lambda: len(_ticks(logs, "notify_tick", after)) >= 2, 60, "two ticks")
        wait_s = (TICK_S - time.time() % TICK_S) - 2.5  # 2.5 s before a tick: before it is queued
        await asyncio.sleep(wait_s if wait_s > 0 else wait_s + TICK_S)
        workers[1].send_signal(signal.SIGSTOP)
        await asyncio.sleep(4.5)
        workers[1].send_signal(signal.SIGCONT)
        await asyncio.sleep(70)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGCONT)
        _stop(workers)
    ticks = _ticks(logs, "notify_tick", after)
    assert len(ticks) >= 12, ticks
    assert {tick: n for tick, n in ticks.items() if n > 1} == {}, ticks


INTERVAL_S = 10  # the shortest interval a service may have
PROBED = [f"rep-{i:02d}" for i in range(6)]


async def test_two_probers_of_a_region_measure_each_slot_once(conn, database_url, tmp_path):
    hits: list[tuple[str, float]] = []

    async def target(request: web.Request) -> web.Response:
        hits.append((request.match_info["service"], time.time()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/svc/{service}", target)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    for service in PROBED:
        await add_services(conn, [service], url=f"http://127.0.0.1:{port}/svc/{service}")
    await conn.execute("UPDATE services SET interval_s = $1 WHERE id = ANY($2)", INTERVAL_S, PROBED)
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_REDIS_URL": Settings().redis_url,
        "SLAMON_DATA_DIR": str(tmp_path),
        "SLAMON_LOG_FORMAT": "text",
    }
    probers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "prober",
                "--region",
                "twin",
                "--id",
                f"twin-{i}",
                "--heartbeat",
                "1",
                "--health-port",
                str(free_port()),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for i in range(2)
    ]
    try:
        await _wait_for(lambda: len({s for s, _ in hits}) == len(PROBED), 60, "every service checked")
        started = time.time()
        await asyncio.sleep(3 * INTERVAL_S)
        end = time.time()
        owners = await conn.fetchval("SELECT count(*) FROM prober_heartbeats WHERE region = 'twin'")
    finally:
        _stop(probers)
        await runner.cleanup()
    assert owners == 2
    per_slot = Counter(
        (service, math.floor((t - offset_s(service, INTERVAL_S)) / INTERVAL_S))
        for service, t in hits
        if started <= t <= end
    )
    assert [slot for slot, n in per_slot.items() if n > 1] == [], per_slot
    measured = {service for service, _ in per_slot}
    assert measured == set(PROBED)
    assert len(per_slot) >= len(PROBED) * 2  # three intervals watched: at least two whole slots each
