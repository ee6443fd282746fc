"""What every job shares: retries with back-off on transient failures, and best-effort realtime events."""

from __future__ import annotations

import functools
import logging

import asyncpg
import redis.exceptions
from arq import Retry

from app.realtime.publisher import Publisher, channel_for

log = logging.getLogger(__name__)

# The database or Redis is restarting, unreachable, overloaded, or chose this transaction as a
# deadlock or serialization victim: the same job will very likely succeed a little later.
TRANSIENT = (
    OSError,  # includes ConnectionError and TimeoutError
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.AdminShutdownError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
BACKOFF_FIRST_S = 5
BACKOFF_MAX_S = 300


def backoff_s(job_try: int) -> int:
    """5, 10, 20, 40, ... seconds, at most 5 minutes."""
    return min(BACKOFF_FIRST_S * 2 ** max(0, job_try - 1), BACKOFF_MAX_S)


def retrying(job):
    """Turn a transient failure of the job into arq's Retry with exponential back-off (up to max_tries)."""

    @functools.wraps(job)
    async def run(ctx, *args, **kwargs):
        try:
            return await job(ctx, *args, **kwargs)
        except TRANSIENT as exc:
            defer = backoff_s(ctx.get("job_try", 1))
            log.warning(
                "%s: transient failure (%s: %s), retrying in %d s",
                job.__name__,
                type(exc).__name__,
                exc,
                defer,
                extra={"job": job.__name__},
            )
            raise Retry(defer=defer) from exc

    return run


async def each_service(job_name: str, service_ids, work) -> dict:
    """Run `work(service_id)` for every service: one service's bug is logged and the others still run;
    a transient failure stops the sweep, to be retried whole."""
    results = {}
    for service_id in service_ids:
        try:
            results[service_id] = await work(service_id)
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 — logged with its traceback; the sweep goes on
            log.exception("%s failed for one service", job_name, extra={"service_id": service_id, "job": job_name})
            results[service_id] = "error"
    return results


class EventPublisher:
    """Realtime events from the worker: published after the commit, a Redis outage logged, never
    turned into a failed (and retried) job whose writes are already done."""

    def __init__(self, settings):
        self.publisher = Publisher(settings.redis_url, channel_for(settings))

    async def publish(self, event: str, data: dict, rooms: list[str]) -> str | None:
        try:
            return await self.publisher.publish(event, data, rooms)
        except Exception:  # noqa: BLE001 — any Redis failure: the event is lost, the data is not
            log.exception("realtime: could not publish %s", event, extra={"job": "publish"})
            return None

    async def changed(self, key: str, value: str) -> bool:
        """Remember `value` under `key`; whether it differs from what was remembered (True when unsure)."""
        try:
            previous = await self.publisher.redis.set(f"{self.publisher.channel}:{key}", value, get=True)
        except Exception:  # noqa: BLE001 — without Redis nothing is published anyway
            return True
        return previous is None or previous.decode() != value

    async def close(self) -> None:
        await self.publisher.close()
