"""Live status in the worker: after every committed write the status depends on, and every few
seconds for what time alone changes, run app.status.live.sync (status-update / uptime-updated).

Why the worker: the computation needs the database (majority of regions, open incidents, the grid),
which the prober should not be made to read after every flush; one place sees every writer (probers
in any number of regions, the ingest API, incident and maintenance writes of the API and of detection);
and it is ordinary background work. Several workers may run it: sync serialises them (live.py).

Why NOTIFY: the triggers of sql/100_live_status.sql fire inside the writing transaction, so the
notification arrives once the rows are visible and names what was stored ('checks:<service>') or
written ('incidents', 'maintenance_windows', 'services'). A burst of them (a prober flushes every
0.5 s per region) is gathered into one computation. Stored checks also start incident detection for
their service (this replaces the prober's own, region-local status trigger)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, cast

import asyncpg

from app.config import Settings
from app.realtime.publisher import channel_for
from app.status import live
from workers.common import Ctx

log = logging.getLogger(__name__)
CHANNEL = "slamon_live"
TICK_S = 5.0  # time alone changes a status or a letter: maintenance starts or ends, a new day
SETTLE_S = 0.2  # gather the notifications of one flush of every region before computing
RETRY_S = 5.0
RUN_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 5.0
JOB = {"job": "live_status"}
STOP_TIMEOUT_S = 10.0  # stop(): the loop's end, then the listener's close, each at most this long


class LiveStatus:
    """The listener and the loop that runs sync; start() once per worker process, stop() at shutdown."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        publisher: live.EventSink,
        enqueue: Callable[..., Awaitable[Any]] | None = None,
        *,
        tick_s: float = TICK_S,
        settle_s: float = SETTLE_S,
    ):
        self.settings = settings
        self.pool = pool
        self.publisher = publisher
        self.enqueue = enqueue  # arq's enqueue_job, for detection; None: no detection triggers
        self.tick_s = tick_s
        self.settle_s = settle_s
        self.runs = 0
        self._wake = asyncio.Event()
        self._stored: set[str] = set()
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._namespace = channel_for(settings)

    def _notified(self, connection: object, pid: int, channel: str, payload: object) -> None:
        if not isinstance(payload, str):
            return
        kind, _, service_id = payload.partition(":")
        if kind == "checks" and service_id:
            self._stored.add(service_id)
        self._wake.set()

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        listener: asyncpg.Connection | None = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                listener = await asyncpg.connect(self.settings.database_url)
                await listener.add_listener(CHANNEL, self._notified)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            if listener is not None:
                listener.terminate()
            log.warning(
                "live status: cannot listen for writes (%s); computing every %.0f s",
                exc,
                self.tick_s,
                extra={"job": "live_status"},
            )
            return
        self._listener = listener
        self._wake.set()  # whatever was written while not listening

    async def start(self) -> None:
        self._stopping = False
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="live-status")

    # asyncio.timeout, never asyncio.wait_for: on Python 3.11, wait_for returns the awaited result when
    # a cancellation arrives in the same turn of the event loop as that result (a NOTIFY waking the
    # loop, a computation ending) and the cancellation is lost: the loop went on and stop() waited for
    # it for ever (CI killed in tests/workers/test_live.py). _stopping ends the loop all the same
    # should some library swallow a cancellation.
    async def _run(self) -> None:
        while not self._stopping:
            try:
                async with asyncio.timeout(self.tick_s):
                    await self._wake.wait()
                await asyncio.sleep(self.settle_s)
            except TimeoutError:
                pass
            if self._stopping:
                return
            self._wake.clear()  # before reading: a write committed from now on wakes the next run
            stored, self._stored = self._stored, set()
            await self._listen()
            try:
                await self.run_once()
            except Exception as exc:  # noqa: BLE001 — database or Redis away: the next run catches up
                log.warning("live status not computed: %s", exc or type(exc).__name__, extra={"job": "live_status"})
                self._stored |= stored
                await asyncio.sleep(RETRY_S)
                self._wake.set()
                continue
            await self._detect(stored)

    async def run_once(self) -> list[live.LiveEvent]:
        # bounded: a hung Redis must not hold the lock (and every other worker's turn) for ever, nor a
        # pool without a free connection the loop
        async with asyncio.timeout(RUN_TIMEOUT_S), self.pool.acquire() as proxy:
            conn = cast(asyncpg.Connection, proxy)
            now = datetime.now(timezone.utc)
            events = await live.sync(conn, self.publisher, now, self.settings.timezone, self.settings.zone)
        self.runs += 1
        return events

    async def _detect(self, service_ids: set[str]) -> None:
        if self.enqueue is None:
            return
        second = int(time.time())
        for service_id in sorted(service_ids):
            try:
                await self.enqueue(
                    "detect_incidents", service_id, _job_id=f"detect-stored:{self._namespace}:{service_id}:{second}"
                )
            except Exception as exc:  # noqa: BLE001 — the every-minute detect_all is the safety net
                log.warning("detection not queued: %s", exc, extra={"service_id": service_id, "job": "live_status"})

    async def stop(self) -> None:
        """End the loop and close the listener, each within STOP_TIMEOUT_S: a shutdown never hangs."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            self._wake.set()  # a loop that lost its cancellation sees _stopping at once
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):  # on expiry the task is cancelled again
                    await asyncio.gather(self._task, return_exceptions=True)
            except TimeoutError:
                log.warning("live status: the loop did not stop in %.0f s", STOP_TIMEOUT_S, extra=JOB)
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await listener.close()
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                log.warning("live status: listener not closed cleanly (%s)", exc or type(exc).__name__, extra=JOB)
                listener.terminate()


async def startup(ctx: Ctx) -> None:
    redis = ctx.get("redis")
    ctx["live_status"] = LiveStatus(
        ctx["settings"], ctx["pool"], ctx["publisher"], redis.enqueue_job if redis is not None else None
    )
    await ctx["live_status"].start()


async def shutdown(ctx: Ctx) -> None:
    live_status = ctx.pop("live_status", None)
    if live_status is not None:
        await live_status.stop()
