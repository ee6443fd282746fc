"""Current status per service from this prober's own results (SLA-MATH "Current status"), and its
publication: a Socket.IO `status-update` to room `system-status` through Redis, plus an arq
`detect_incidents` job for the worker. Publishing runs in its own task behind a bounded queue, so a
slow or absent Redis never delays a check; failures are logged and counted, never raised."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone

log = logging.getLogger(__name__)
OUTAGE_AFTER_FAILED_SLOTS = 3


@dataclass(frozen=True)
class StatusChange:
    service_id: str
    status: str
    slot: int  # epoch seconds

    def payload(self) -> dict:
        ts = datetime.fromtimestamp(self.slot, timezone.utc).isoformat().replace("+00:00", "Z")
        return {"serviceId": self.service_id, "status": self.status, "timestamp": ts}


def current_status(recent: list[tuple[bool, int | None]], latency_target_ms: int) -> str:
    """outage when the last 3 slots failed; degraded when the latest failed or was slower than the target."""
    if len(recent) >= OUTAGE_AFTER_FAILED_SLOTS and not any(ok for ok, _ in recent[-OUTAGE_AFTER_FAILED_SLOTS:]):
        return "outage"
    ok, latency_ms = recent[-1]
    if not ok or (latency_ms is not None and latency_ms > latency_target_ms):
        return "degraded"
    return "operational"


class StatusTracker:
    """Keeps the last 3 results per service (in slot order) and reports status changes."""

    def __init__(self):
        self._recent: dict[str, deque[tuple[int, bool, int | None]]] = {}
        self._status: dict[str, str] = {}

    def record(
        self, service_id: str, slot: int, ok: bool, latency_ms: int | None, latency_target_ms: int
    ) -> StatusChange | None:
        recent = self._recent.setdefault(service_id, deque(maxlen=OUTAGE_AFTER_FAILED_SLOTS))
        if recent and slot <= recent[-1][0]:
            return None  # a late result of an older slot does not change the current status
        recent.append((slot, ok, latency_ms))
        status = current_status([(o, lat) for _, o, lat in recent], latency_target_ms)
        if self._status.get(service_id) == status:
            return None
        self._status[service_id] = status
        return StatusChange(service_id, status, slot)

    def forget(self, service_id: str) -> None:
        self._recent.pop(service_id, None)
        self._status.pop(service_id, None)


class Publisher:
    """Sends status changes to Redis: Socket.IO event and arq job, best effort."""

    def __init__(self, redis_url: str, region: str, channel: str, queue_size: int = 10_000):
        self.redis_url = redis_url
        self.region = region
        self.channel = channel  # the API processes' Socket.IO channel (app.realtime.publisher.channel_for)
        self.queue: asyncio.Queue[StatusChange] = asyncio.Queue(queue_size)
        self.published = 0
        self.failed = 0
        self._manager = None
        self._arq = None

    def offer(self, change: StatusChange) -> None:
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.failed += 1
            log.error(
                "status queue full, dropped a status change",
                extra={"service_id": change.service_id, "region": self.region, "job": "status"},
            )

    async def run(self) -> None:
        while True:
            change = await self.queue.get()
            try:
                await asyncio.wait_for(self._publish(change), 5)
                self.published += 1
            except Exception as exc:  # Redis down or slow: log and go on checking
                self.failed += 1
                await self._reset()
                log.warning(
                    "could not publish status %s: %s",
                    change.status,
                    exc or type(exc).__name__,
                    extra={"service_id": change.service_id, "region": self.region, "job": "status"},
                )
            finally:
                self.queue.task_done()

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) until queued changes are published; used at shutdown."""
        try:
            await asyncio.wait_for(self.queue.join(), timeout_s)
        except TimeoutError:
            log.warning(
                "%d status change(s) not published at shutdown",
                self.queue.qsize(),
                extra={"region": self.region, "job": "status"},
            )

    async def _publish(self, change: StatusChange) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        from app.realtime.publisher import Publisher as RealtimePublisher

        if self._manager is None:  # emits like every other process: recorded for replay, fanned out by the APIs
            self._manager = RealtimePublisher(self.redis_url, self.channel)
        if self._arq is None:
            redis_settings = RedisSettings.from_dsn(self.redis_url)
            redis_settings.conn_retries, redis_settings.conn_timeout = 0, 2
            self._arq = await create_pool(redis_settings)
        await self._manager.publish("status-update", change.payload(), ["system-status"])
        await self._arq.enqueue_job(
            "detect_incidents", change.service_id, _job_id=f"detect:{change.service_id}:{change.slot}"
        )

    async def _reset(self) -> None:
        arq, manager, self._arq, self._manager = self._arq, self._manager, None, None
        for client in (arq.aclose() if arq else None, manager.close() if manager else None):
            if client is not None:
                try:
                    await asyncio.wait_for(client, 2)
                except Exception:  # already broken
                    pass

    async def close(self) -> None:
        await self._reset()
