"""What every job shares: retries with back-off on transient failures, and best-effort realtime events."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import asyncpg
import redis.exceptions
from arq import Retry

from app.realtime.publisher import Publisher, channel_for

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger(__name__)

# arq's job context: the clients every job shares (pool, redis, publisher, settings, ...) by name.
Ctx = dict[str, Any]
Job = TypeVar("Job", bound=Callable[..., Awaitable[Any]])
T = TypeVar("T")

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
    delay_s: int = BACKOFF_FIRST_S * 2 ** max(0, job_try - 1)
    return min(delay_s, BACKOFF_MAX_S)


def retrying(job: Job) -> Job:
    """Turn a transient failure of the job into arq's Retry with exponential back-off (up to max_tries)."""

    @functools.wraps(job)
    async def run(ctx: Ctx, *args: Any, **kwargs: Any) -> Any:
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

    return cast(Job, run)  # functools.wraps: the job's own name (arq's job name) and signature


async def each_service(
    job_name: str, service_ids: Iterable[str], work: Callable[[str], Awaitable[T]]
) -> dict[str, T | str]:
    """Run `work(service_id)` for every service: one service's bug is logged and the others still run;
    a transient failure stops the sweep, to be retried whole."""
    results: dict[str, T | str] = {}
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

    def __init__(self, settings: Settings) -> None:
        self.publisher = Publisher(settings.redis_url, channel_for(settings))

    async def publish(self, event: str, data: dict[str, Any], rooms: list[str]) -> str | None:
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

    async def changed_many(self, values: dict[str, str]) -> dict[str, bool]:
        """changed() of every key, in one round trip."""
        redis = self.publisher.redis
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for key, value in values.items():
                    pipe.set(f"{self.publisher.channel}:{key}", value, get=True)
                previous = await pipe.execute()
        except Exception:  # noqa: BLE001 — without Redis nothing is published anyway
            return dict.fromkeys(values, True)
        return {
            key: old is None or old.decode() != value
            for (key, value), old in zip(values.items(), previous, strict=True)
        }

    async def close(self) -> None:
        await self.publisher.close()
