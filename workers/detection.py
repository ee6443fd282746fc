"""Incident detection jobs: `detect_incidents(ctx, service_id)`, enqueued by the worker's live status
whenever checks of the service were stored (workers/live.py), and the every-minute cron, the safety
net for a lost trigger, over the active services whose slots, configuration or maintenance windows
changed since its last run or whose slots settle now (app/detection/sweep.py). Both run
app.detection.service.detect, serialised per service by a database lock."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import asyncpg
from arq import Retry

from app.changes.service import Due
from app.detection import batch, sweep
from app.detection import service as detection
from app.incidents import events
from workers.common import TRANSIENT, Ctx, each_service, retrying

log = logging.getLogger(__name__)


async def _detect(ctx: Ctx, service_id: str, now: datetime, work: Due | None = None) -> detection.Detection:
    settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn, conn.transaction():  # one commit for both
        found = await detection.detect(conn, service_id, now, settings.detection_auto_resolve_minutes)
        await sweep.finish(conn, {service_id: work}, now, {service_id: found})
    await _after(ctx, service_id, now, found)
    return found


async def _after(ctx: Ctx, service_id: str, now: datetime, found: detection.Detection) -> None:
    """After the commit: the next look while an incident is open, the realtime events, the log."""
    if found.watching and "redis" in ctx:
        # While an incident is open the job also looks again one slot later, whether or not a write
        # of this service wakes it (a push-only service may go quiet).
        tick = int(now.timestamp()) // found.interval_s
        await ctx["redis"].enqueue_job(
            "detect_incidents", service_id, _job_id=f"detect-watch:{service_id}:{tick}", _defer_by=found.interval_s
        )
    for event in found.events:  # after the commit, like the API's incident writes
        if event.kind == "created":
            await events.created(ctx["publisher"], event.incident)
        else:
            await events.updated(ctx["publisher"], event.incident, event.update, event.changes)
        log.info(
            "incident %s %s automatically",
            event.incident.id,
            event.kind,
            extra={"service_id": service_id, "job": "detect_incidents"},
        )


SLOT_WAIT_TRIES = 4  # the prober's sink writes the slot within a second or so of announcing it


def _announced_slot(job_id: str | None) -> datetime | None:
    """The slot of a prober's trigger, whose job id is detect:{service_id}:{epoch seconds}."""
    prefix, _, epoch = (job_id or "").rpartition(":")
    if not prefix.startswith("detect:") or not epoch.isdigit():
        return None
    return datetime.fromtimestamp(int(epoch), timezone.utc)


@retrying
async def detect_incidents(ctx: Ctx, service_id: str) -> int:
    """Detection for one service now; returns the number of automatic incident actions taken."""
    slot = _announced_slot(ctx.get("job_id"))
    if slot is not None and ctx.get("job_try", 1) < SLOT_WAIT_TRIES:
        async with ctx["pool"].acquire() as conn:
            stored = await detection.slot_stored(conn, service_id, slot)
        if not stored:  # the status change travelled faster than the result it is about
            raise Retry(defer=1)
    return len((await _detect(ctx, service_id, datetime.now(timezone.utc))).events)


@retrying
async def detect_all(ctx: Ctx) -> dict[str, int | str]:
    """Cron: detection for the active services due (app/detection/sweep.py)."""
    return await sweep_detection(ctx, datetime.now(timezone.utc))


async def sweep_detection(
    ctx: Ctx, now: datetime, *, full: bool = False, one_by_one: bool = False
) -> dict[str, int | str]:
    """Detection at `now` for the services due; `full`: for every active service (the reference the
    incremental sweep is tested and benchmarked against). The services due are judged together
    (app/detection/batch.py); should that fail, or with `one_by_one` (the batch's reference in the
    tests), one by one, so that one service's bug spares the others."""
    async with ctx["pool"].acquire() as conn:
        work = await sweep.plan(conn, now, await detection.active_service_ids(conn), full=full)
        found = None if one_by_one else await _batch(conn, work, now, ctx["settings"].detection_auto_resolve_minutes)
    if found is None:

        async def one(service_id: str) -> int:
            return len((await _detect(ctx, service_id, now, work[service_id])).events)

        return await each_service("detect_all", list(work), one)
    for service_id, result in found.items():
        await _after(ctx, service_id, now, result)
    return {service_id: len(result.events) for service_id, result in found.items()}


async def _batch(
    conn: asyncpg.Connection, work: dict[str, Due | None], now: datetime, auto_resolve_minutes: int
) -> dict[str, detection.Detection] | None:
    """The services of `work` judged together, with the bookkeeping in the same commit; None if that failed."""
    try:
        async with conn.transaction():
            found = await batch.detect_many(conn, list(work), now, auto_resolve_minutes)
            await sweep.finish(conn, work, now, found)
    except TRANSIENT:
        raise
    except Exception:  # noqa: BLE001 — judged one at a time next, each failure logged with its service
        log.exception("detect_all: the batch failed, judging one service at a time", extra={"job": "detect_all"})
        return None
    return found
