"""Notifications in the worker: the scan + fan-out cron, a fast path woken by the outbox, and one job
per delivery attempt.

- `notify_tick` (cron, every 5 s, unique): SLO violations and maintenance windows → events, events →
  deliveries, due deliveries → `notify_deliver` jobs; public receivers nobody confirmed are forgotten.
  The safety net: whatever a crash interrupted is picked up here.
- Outbox writes NOTIFY at commit; each worker LISTENs and enqueues `notify_dispatch` at once, so an
  incident reaches its receivers in about a second rather than at the next tick.
- `notify_deliver(delivery_id)`: one attempt (app/notifications/delivery.py). Job ids are
  `notify:deliver:<delivery>:<attempts so far>`, so the tick and a retry scheduled by a failed
  attempt enqueue the same job, never two; results are not kept, so an id can be enqueued again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

import asyncpg

from app.notifications import delivery, outbox, queries
from app.notifications.senders import Senders
from app.realtime.publisher import channel_for
from app.subscribers import service as subscribers
from workers.common import Ctx

log = logging.getLogger(__name__)

EVERY_5_S = set(range(0, 60, 5))


def deliver_job_id(delivery_id: str, attempts: int) -> str:
    return f"notify:deliver:{delivery_id}:{attempts}"


async def _enqueue_due(ctx: Ctx) -> int:
    async with ctx["pool"].acquire() as conn:
        due = await delivery.due(conn)
    for delivery_id, attempts in due:
        await ctx["redis"].enqueue_job("notify_deliver", delivery_id, _job_id=deliver_job_id(delivery_id, attempts))
    return len(due)


async def _dispatch(ctx: Ctx) -> int:
    async with ctx["pool"].acquire() as conn:
        return await delivery.dispatch(conn)


async def notify_tick(ctx: Ctx) -> dict[str, int]:
    """Scan SLO violations and maintenance windows, fan events out, enqueue due deliveries."""
    await ensure_listener(ctx)
    settings = ctx["settings"]
    now = datetime.now(timezone.utc)
    async with ctx["pool"].acquire() as conn:
        events = await outbox.scan(conn, now, settings.notify_horizon_s)
        await subscribers.forget_unconfirmed(conn, settings, now)
    created = await _dispatch(ctx)
    enqueued = await _enqueue_due(ctx)
    if events or created:
        log.info("notifications: %d events, %d deliveries", len(events), created, extra={"job": "notify_tick"})
    return {"events": len(events), "deliveries": created, "enqueued": enqueued}


async def notify_dispatch(ctx: Ctx) -> dict[str, int]:
    """Fan new outbox events out now (woken by NOTIFY) and enqueue what is due."""
    return {"deliveries": await _dispatch(ctx), "enqueued": await _enqueue_due(ctx)}


async def notify_deliver(ctx: Ctx, delivery_id: str) -> str:
    """One attempt at a delivery; a failure schedules the next attempt's job at its time."""
    result = await delivery.deliver(ctx["pool"], ctx["senders"], ctx["settings"], delivery_id)
    if result.status == "pending" and result.next_attempt_at is not None:
        await ctx["redis"].enqueue_job(
            "notify_deliver",
            delivery_id,
            _defer_until=result.next_attempt_at,
            _job_id=deliver_job_id(delivery_id, result.attempts),
        )
    return result.status


async def ensure_listener(ctx: Ctx) -> None:
    """(Re)open the LISTEN connection that turns outbox commits into an immediate dispatch."""
    current = ctx.get("notify_listener")
    if current is not None and not current.is_closed():
        return
    loop = asyncio.get_running_loop()

    wakeups: set[asyncio.Task[Any]] = ctx.setdefault("notify_wakeups", set())
    # arq job ids are global to the Redis server: the installation's namespace keeps two databases
    # (two deployments, two test sessions) from taking each other's ids for the same event key.
    namespace = channel_for(ctx["settings"])

    def woken(connection: object, pid: int, channel: str, event_key: object) -> None:
        task = loop.create_task(
            ctx["redis"].enqueue_job("notify_dispatch", _job_id=f"notify:dispatch:{namespace}:{event_key}")
        )
        wakeups.add(task)
        task.add_done_callback(wakeups.discard)

    try:
        listener = await asyncpg.connect(ctx["settings"].database_url)
        await listener.add_listener(queries.NOTIFY_CHANNEL, woken)
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning(
            "notifications: cannot listen for outbox events (%s); the 5 s scan still runs",
            exc,
            extra={"job": "notify_tick"},
        )
        return
    ctx["notify_listener"] = listener


async def startup(ctx: Ctx) -> None:
    ctx["senders"] = Senders(ctx["settings"])
    await ensure_listener(ctx)


async def shutdown(ctx: Ctx) -> None:
    listener = ctx.pop("notify_listener", None)
    if listener is not None:
        await listener.close()
    # Wake-ups already received are enqueued before the Redis pool closes (the 5 s scan would catch them).
    await asyncio.gather(*ctx.get("notify_wakeups", ()), return_exceptions=True)
    await ctx["senders"].close()
