"""A real `slamon prober` (default 5 s heartbeat) is SIGKILLed and started again 12 s later with the
same id: the slots of those 12 s stay unchecked. Before, the restarted prober "caught up" the slots
it had been down for and stored measurements taken after its start under those earlier slot times."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp

from tests.conftest import free_port
from tests.faults.conftest import add_probed_services, due_slots, stored_slots, wait_for
from tests.prober import servers

SERVICES = [f"late-{i:02d}" for i in range(10)]
REGION = "late"


async def _healthy(session, port) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def test_restarted_prober_never_backfills_slots_it_was_down_for(stack):
    runner, web_port = await servers.start_app(servers.app())
    try:
        await add_probed_services(stack, SERVICES, f"http://127.0.0.1:{web_port}/ok")
        port = free_port()
        args = ("prober", "--region", REGION, "--id", "late-1", "--health-port", str(port))
        first = stack.slamon(*args, log_name="prober-1")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            await wait_for(lambda: _healthy(session, port), 60, "the first prober")
            await asyncio.sleep(6)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            killed = time.time()
            await asyncio.sleep(12)
            restarted = time.time()
            second = stack.slamon(*args, log_name="prober-2")
            await wait_for(lambda: _healthy(session, port), 60, "the restarted prober")
            await asyncio.sleep(25)  # past its first catch-up rounds (every heartbeat)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
        stored = await stored_slots(stack, REGION)
        down = due_slots(SERVICES, killed + 1, restarted)
        assert down, "the prober was down for at least one slot"
        backfilled = down & stored
        assert not backfilled, (
            f"{len(backfilled)} slot(s) of the downtime stored by late measurements: {sorted(backfilled)[:5]}"
        )
        after = due_slots(SERVICES, restarted + 8, time.time() - 8)
        assert after and after <= stored  # it does check the slots after its start
    finally:
        await runner.cleanup()
