"""Fleet failover with real processes: three `slamon prober` processes of one region share the
services; one is killed with SIGKILL; the other two take its services over and every slot is still
checked (one row per slot and region: the checks table's unique key)."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

from app.config import Settings
from prober.schedule import offset_s, slot_after
from tests.conftest import free_port
from tests.prober.conftest import add_services

ROOT = Path(__file__).resolve().parents[2]
INTERVAL_S = 10  # the shortest interval a service may have
SERVICES = [f"proc-{i:02d}" for i in range(6)]


def _due(start: float, end: float) -> set[tuple[str, int]]:
    due = set()
    for service in SERVICES:
        slot = slot_after(start, INTERVAL_S, offset_s(service, INTERVAL_S))
        while slot <= end:
            due.add((service, slot))
            slot += INTERVAL_S
    return due


async def _healthy(session: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def test_sigkilled_prober_process_is_replaced(conn, database_url, tmp_path, web_port):
    await add_services(conn, SERVICES, url=f"http://127.0.0.1:{web_port}/ok")
    await conn.execute("UPDATE services SET interval_s = $1 WHERE id = ANY($2)", INTERVAL_S, SERVICES)
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_REDIS_URL": Settings().redis_url,
        "SLAMON_DATA_DIR": str(tmp_path),
        "SLAMON_LOG_FORMAT": "text",
    }
    ports = [free_port() for _ in range(3)]
    probers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "prober",
                "--region",
                "proc",
                "--id",
                f"proc-p{i}",
                "--heartbeat",
                "1",
                "--health-port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i, port in enumerate(ports)
    ]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            deadline = time.time() + 40
            while not all([await _healthy(session, p) for p in ports]):
                assert time.time() < deadline, "probers did not become healthy"
                await asyncio.sleep(0.5)
        steady = time.time() + 1
        owners = await conn.fetch("SELECT prober_id FROM prober_heartbeats WHERE region = 'proc'")
        assert len(owners) == 3
        await asyncio.sleep(INTERVAL_S + 2)
        probers[2].send_signal(signal.SIGKILL)
        probers[2].wait()
        await asyncio.sleep(2.5 * INTERVAL_S)
        end = time.time() - 3
        for prober in probers[:2]:
            prober.send_signal(signal.SIGTERM)
        for prober in probers[:2]:
            assert prober.wait(timeout=20) == 0
    finally:
        for prober in probers:
            if prober.poll() is None:
                prober.kill()
                prober.wait()

    rows = await conn.fetch(
        "SELECT service_id, ts FROM checks WHERE region = 'proc' AND service_id = ANY($1)", SERVICES
    )
    stored = Counter((r["service_id"], int(r["ts"].timestamp())) for r in rows)
    due = _due(steady, end)
    missing = due - set(stored)
    assert missing == set(), f"{len(missing)} of {len(due)} slot(s) never checked: {sorted(missing)}"
