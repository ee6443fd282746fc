"""The disk under a real `slamon prober`'s spool fills up (a 256 KiB tmpfs, filled by the test), and
the database stops for a while: the prober reports itself unhealthy naming the spool, counts the
write errors in /metrics, keeps storing (directly while the database answers, from memory once it is
back), resumes journaling once space returns, never leaves a torn journal line, and no slot of the
whole window is missing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time

import aiohttp
import pytest

from prober.spool import decode
from tests.conftest import free_port
from tests.faults.conftest import add_probed_services, due_slots, stored_slots, wait_for
from tests.prober import servers

SERVICES = [f"disk-{i:02d}" for i in range(20)]
REGION = "disk"


async def _health(session, port) -> tuple[int, dict]:
    try:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status, await response.json()
    except (aiohttp.ClientError, TimeoutError):
        return 0, {}


async def _metric(session, port, name) -> float:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def _fill(path) -> None:
    """Take every free byte of the filesystem holding `path`."""
    with open(path, "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 512)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs for the spool: needs root")
async def test_disk_full_then_database_down_loses_no_slot(stack):
    spool_root = stack.app_dir / "spool"
    spool_root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(spool_root)], check=True)
    runner, web_port = await servers.start_app(servers.app())
    try:
        await add_probed_services(stack, SERVICES, f"http://127.0.0.1:{web_port}/ok")
        port = free_port()
        prober = stack.slamon(
            "prober",
            "--region",
            REGION,
            "--id",
            "disk-1",
            "--heartbeat",
            "1",
            "--health-port",
            str(port),
            log_name="prober",
        )
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            await wait_for(lambda: _is_healthy(session, port), 60, "the prober to be healthy")
            steady = time.time() + 1
            await asyncio.sleep(5)

            _fill(spool_root / "filler")
            status, body = await wait_for(lambda: _unhealthy(session, port), 30, "/healthz to report the full disk")
            assert status == 503 and "spool" in body["reason"]
            assert await _metric(session, port, "slamon_prober_sink_write_errors_total") > 0
            await asyncio.sleep(6)  # checked while the disk is full and the database answers
            stack.stop_postgres()
            await asyncio.sleep(12)  # ... and while neither takes them
            assert prober.poll() is None
            (spool_root / "filler").unlink()
            stack.up()
            await wait_for(lambda: _is_healthy(session, port), 60, "the prober to be healthy again")
            await asyncio.sleep(12)  # journaled and shipped again, through the spool
            end = time.time() - 3
            await wait_for(lambda: _drained(session, port), 60, "the spool to drain")
        missing = due_slots(SERVICES, steady, end) - await stored_slots(stack, REGION)
        assert not missing, f"{len(missing)} slot(s) never stored: {sorted(missing)[:5]}"
        for segment in (spool_root / f"{REGION}-disk-1").glob("*.jsonl"):
            data = segment.read_bytes()
            assert not data or data.endswith(b"\n"), f"torn line in {segment.name}"
            for line in data.splitlines():
                decode(line.decode())
    finally:
        await runner.cleanup()
        for process in stack.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        subprocess.run(["umount", "-l", str(spool_root)], check=False)


async def _is_healthy(session, port) -> bool:
    return (await _health(session, port))[0] == 200


async def _unhealthy(session, port):
    status, body = await _health(session, port)
    return (status, body) if status == 503 and "spool" in body.get("reason", "") else None


async def _drained(session, port) -> bool:
    status, body = await _health(session, port)
    return status == 200 and body.get("spoolDepth") == 0
