"""An acknowledged row is a stored row: the PostgreSQL postmaster is SIGKILLed (alone, and with every
process it started) again and again during a burst of POST /api/ingest/checks to a real `slamon api`,
and during a real `slamon prober`'s shipping; afterwards every row answered 2xx, and every journal
row the prober's cursor marked shipped, is in the database."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from prober.spool import decode
from tests.conftest import free_port
from tests.faults.conftest import PUSH_ONLY, add_probed_services, http_status, wait_for
from tests.prober import servers

CRASHES = 3
WRITERS = 6
ROWS_PER_REQUEST = 40
SERVICE = PUSH_ONLY  # push-only: the ingest API takes check rows only for such services


async def _writer(session, url, key, next_second, acknowledged: set, stop: asyncio.Event) -> None:
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    headers = {"Authorization": f"Bearer {key}"}
    while not stop.is_set():
        seconds = [next_second() for _ in range(ROWS_PER_REQUEST)]
        rows = [{"ts": (base + timedelta(seconds=s)).isoformat(), "ok": True, "latency_ms": 12} for s in seconds]
        try:
            async with session.post(url, json=rows, headers=headers) as response:
                body = await response.read()
                if response.status == 200 and sum(json.loads(body)[k] for k in ("accepted", "duplicates")) == len(rows):
                    acknowledged.update(seconds)
                    continue
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.05)  # refused or unreachable: not acknowledged, try new rows shortly


@pytest.mark.parametrize("with_children", [False, True], ids=["postmaster", "postmaster-and-children"])
async def test_no_acknowledged_ingest_row_is_lost(stack, with_children):
    key = await stack.push_only_key(SERVICE)
    port = free_port()
    stack.slamon("api", "--port", str(port), log_name="api")
    base_url = f"http://127.0.0.1:{port}"
    acknowledged: set[int] = set()
    counter = iter(range(10**9))
    stop = asyncio.Event()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        await wait_for(lambda: _is(http_status(session, f"{base_url}/api/health"), 200), 60, "the API")
        writers = [
            asyncio.create_task(
                _writer(session, f"{base_url}/api/ingest/checks", key, lambda: next(counter), acknowledged, stop)
            )
            for _ in range(WRITERS)
        ]
        try:
            for _ in range(CRASHES):
                before = len(acknowledged)
                await wait_for(lambda b=before: len(acknowledged) >= b + 400, 60, "acknowledged rows before the crash")
                stack.kill_postgres(with_children)
                await asyncio.sleep(0.3)
                stack.up()
            before = len(acknowledged)
            await wait_for(lambda: len(acknowledged) >= before + 400, 60, "acknowledged rows after the last crash")
        finally:
            stop.set()
            await asyncio.gather(*writers)
    conn = await stack.connect()
    try:
        stored = await conn.fetch("SELECT ts FROM checks WHERE service_id = $1 AND region = 'push'", SERVICE)
    finally:
        await conn.close()
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stored_seconds = {int((r["ts"] - base).total_seconds()) for r in stored}
    lost = acknowledged - stored_seconds
    assert len(acknowledged) > 1000
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged rows lost after {CRASHES} crashes"


async def _is(awaitable, expected) -> bool:
    return await awaitable == expected


PROBED = [f"durable-{i:03d}" for i in range(150)]


async def test_no_row_the_prober_journal_marked_shipped_is_lost(stack):
    runner, web_port = await servers.start_app(servers.app())
    await add_probed_services(stack, PROBED, f"http://127.0.0.1:{web_port}/ok")
    health_port = free_port()
    prober = stack.slamon(
        "prober",
        "--region",
        "dur",
        "--id",
        "dur-1",
        "--heartbeat",
        "1",
        "--health-port",
        str(health_port),
        log_name="prober",
    )
    spool = stack.app_dir / "spool" / "dur-dur-1"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            await wait_for(
                lambda: _is(http_status(session, f"http://127.0.0.1:{health_port}/healthz"), 200),
                60,
                "the prober's health",
            )
            for crash in range(CRASHES):
                await asyncio.sleep(4)
                stack.kill_postgres(with_children=crash % 2 == 1)
                await asyncio.sleep(1)
                stack.up()
            await asyncio.sleep(4)

            async def drained():
                async with session.get(f"http://127.0.0.1:{health_port}/healthz") as response:
                    return (await response.json())["spoolDepth"] < 50

            await wait_for(drained, 60, "the spool to drain")
        prober.kill()
        prober.wait(timeout=30)
    finally:
        await runner.cleanup()
    shipped = _journal_rows_before_cursor(spool)
    conn = await stack.connect()
    try:
        stored = {
            (r["service_id"], r["ts"])
            for r in await conn.fetch("SELECT service_id, ts FROM checks WHERE region = 'dur'")
        }
    finally:
        await conn.close()
    lost = [r for r in shipped if (r.service_id, r.ts) not in stored]
    assert len(shipped) > 200
    assert not lost, f"{len(lost)} of {len(shipped)} rows marked shipped are not stored, e.g. {lost[:3]}"


def _journal_rows_before_cursor(spool) -> list:
    segment, offset = map(int, (spool / "cursor").read_text().split())
    rows = []
    path = spool / f"{segment:08d}.jsonl"
    assert segment == 1, "every shipped row is still in the first segment (shipped segments are deleted)"
    with open(path, "rb") as handle:
        for line in handle.read(offset).splitlines():
            rows.append(decode(line.decode()))
    return rows
