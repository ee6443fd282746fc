"""Fixtures of the worker tests: slots written through the ingest module, a worker context
(settings, pool, realtime publisher) like workers/settings.py builds, on the test database; the
staff side (signed-in clients) and the notification receivers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import pytest

from app.ingest.service import CheckRow, write_checks
from tests.app.conftest import make_app, staff, staff_db  # noqa: F401
from tests.app.notifications.conftest import make_receiver  # noqa: F401
from workers.common import EventPublisher

T0 = datetime(2025, 8, 1, 12, 0, tzinfo=timezone.utc)
BOUND_S = 60.0  # far above what each bounded step takes at load 15
LATENCY = {".": 300, "s": 8000, "S": 16000, "x": None}


@asynccontextmanager
async def bounded(what: str, seconds: float = BOUND_S) -> AsyncIterator[None]:
    """Awaits of a fixture's setup or teardown that must end: one that hangs fails its test, naming
    `what`, instead of holding the whole session (the event loop is the session's) until CI's limit."""
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            yield
    except TimeoutError:
        if deadline.expired():
            pytest.fail(f"{what} did not end within {seconds:.0f} s")
        raise


async def write_slots(
    conn, service_id: str, start: datetime, pattern: str, interval_s: int = 60, region: str = "default"
) -> datetime:
    """One check per slot from `start`: 'x' failed (503), '.' 300 ms, 's' 8 s, 'S' 16 s; returns the last slot."""
    rows = []
    for i, outcome in enumerate(pattern):
        ts = start + timedelta(seconds=i * interval_s)
        if outcome == "x":
            rows.append(CheckRow(ts, service_id, region, False, 503, 40, "http_error", "503 Service Unavailable"))
        else:
            rows.append(CheckRow(ts, service_id, region, True, 200, LATENCY[outcome]))
    await write_checks(conn, rows, now=start + timedelta(days=365))
    return start + timedelta(seconds=(len(pattern) - 1) * interval_s)


@pytest.fixture
async def worker_ctx(pool, settings):
    publisher = EventPublisher(settings)
    yield {"settings": settings, "pool": pool, "publisher": publisher, "job_try": 1}
    async with bounded("closing the event publisher"):
        await publisher.close()


@pytest.fixture
async def queue_redis_url(settings):
    """A Redis database of its own for this session's arq queue: a worker of `slamon up` on the same
    Redis never takes the tests' jobs (a job carries only a service id, not a database)."""
    import os

    import redis.asyncio as aioredis

    base, _, _ = settings.redis_url.rpartition("/")
    url = f"{base}/{1 + os.getpid() % 15}"
    client = aioredis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    async with bounded("emptying the queue's Redis database"):
        await client.flushdb()
        await client.aclose()
    return url


@pytest.fixture
async def fast_services(conn):
    """Services probed every 10 s (the catalog's minimum) for the test; services.toml again afterwards."""
    from app.services.service import load_catalog, sync_catalog
    from tests.app.conftest import ROOT

    async def set_interval(service_ids, interval_s=10):
        await conn.execute("UPDATE services SET interval_s = $2 WHERE id = ANY($1::text[])", service_ids, interval_s)

    yield set_interval
    await sync_catalog(conn, load_catalog(ROOT / "services.toml"))
