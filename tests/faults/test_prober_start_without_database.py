"""A real `slamon prober` is SIGKILLed, the database stops, and the prober is started again: it checks
the services and assignment it last saw (kept beside its journal) and spools the results; once the
database is back every slot checked meanwhile is stored."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp

from tests.conftest import free_port
from tests.faults.conftest import add_probed_services, due_slots, stored_slots, wait_for
from tests.prober import servers

SERVICES = [f"cold-{i:02d}" for i in range(10)]
REGION = "cold"


async def _health(session, port):
    try:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status, await response.json()
    except (aiohttp.ClientError, TimeoutError):
        return 0, {}


async def test_prober_started_while_the_database_is_down_checks_and_spools(stack):
    runner, web_port = await servers.start_app(servers.app())
    try:
        await add_probed_services(stack, SERVICES, f"http://127.0.0.1:{web_port}/ok")
        port = free_port()
        args = ("prober", "--region", REGION, "--id", "cold-1", "--heartbeat", "1", "--health-port", str(port))
        first = stack.slamon(*args, log_name="prober-1")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            await wait_for(lambda: _status_is(session, port, 200), 60, "the first prober to be healthy")
            await asyncio.sleep(3)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            stack.stop_postgres()

            stack.slamon(*args, log_name="prober-2")
            await wait_for(lambda: _status_is(session, port, 503), 60, "the second prober's health endpoint")
            started = time.time()
            await asyncio.sleep(25)  # more than two intervals, checked with the database down
            end = time.time() - 3
            status, body = await _health(session, port)
            assert status == 503 and body["spoolDepth"] > 0, body  # checked and spooled

            stack.up()
            await wait_for(lambda: _drained(session, port), 90, "the spool to drain")
        missing = due_slots(SERVICES, started + 2, end) - await stored_slots(stack, REGION)
        assert not missing, (
            f"{len(missing)} slot(s) checked while the database was down never stored: "
            f"{sorted(missing)[:5]}\n{stack.log('prober-2')[-2000:]}"
        )
    finally:
        await runner.cleanup()


async def _status_is(session, port, expected) -> bool:
    return (await _health(session, port))[0] == expected


async def _drained(session, port) -> bool:
    status, body = await _health(session, port)
    return status == 200 and body.get("spoolDepth") == 0
