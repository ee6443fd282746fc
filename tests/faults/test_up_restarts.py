"""`slamon up` keeps its stack running: a child SIGKILLed (the worker, then the API) is started again,
while the others keep running; SIGTERM still stops everything."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import aiohttp

from tests.conftest import free_port
from tests.faults.conftest import _children_of, wait_for, wait_gone


def _child(up_pid: int, *words: str) -> int | None:
    """The child of `slamon up` whose command line holds every word."""
    for pid in _children_of(up_pid):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = [a.decode() for a in args]
        if all(w in text for w in words):
            return pid
    return None


async def _api_answers(session, url) -> bool:
    try:
        async with session.get(url) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def test_up_restarts_a_killed_child(stack):
    ports = {
        name: free_port() for name in ("port", "status-port", "console-port", "targets-port", "prober-health-port")
    }
    args = [f"--{name}={port}" for name, port in ports.items()]
    up = stack.slamon("up", "--seed-days", "0", *args, log_name="up")
    api = f"http://127.0.0.1:{ports['port']}/api/health/live"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        await wait_for(lambda: _api_answers(session, api), 90, "the stack's API")
        for words in (("worker",), ("api", f"{ports['port']}")):
            first = await wait_for(lambda w=words: _child(up.pid, *w), 30, f"the {words[0]} child")
            os.kill(first, signal.SIGKILL)
            wait_gone([first])
            second = await wait_for(lambda w=words: _child(up.pid, *w), 60, f"the {words[0]} child to come back")
            assert second != first and up.poll() is None
        await wait_for(lambda: _api_answers(session, api), 90, "the restarted API")
    children = _children_of(up.pid)
    up.send_signal(signal.SIGTERM)
    assert up.wait(timeout=60) == 0
    wait_gone(children, timeout=30)
    assert "restarting worker" in stack.log("up") or "restarting in" in stack.log("up")
