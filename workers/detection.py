"""Incident detection jobs: `detect_incidents(ctx, service_id)`, enqueued by the prober on every status
change (prober/status.py), and the every-minute cron over all active services, the safety net for
a lost trigger. Both run app.detection.service.detect, serialised per service by a database lock."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from arq import Retry

from app.detection import service as detection
from app.incidents import events
from workers.common import each_service, retrying

log = logging.getLogger(__name__)


async def _detect(ctx, service_id: str) -> int:
    settings = ctx["settings"]
    now = datetime.now(timezone.utc)
    async with ctx["pool"].acquire() as conn:
        found = await detection.detect(conn, service_id, now, settings.detection_auto_resolve_minutes)
    if found.watching and "redis" in ctx:
        # The prober triggers on status changes only; a recovery (5 good slots) changes nothing it
        # reports, so while an incident is open the job looks again one slot later.
        tick = int(now.timestamp()) // found.interval_s
        await ctx["redis"].enqueue_job(
            "detect_incidents", service_id, _job_id=f"detect-watch:{service_id}:{tick}", _defer_by=found.interval_s
        )
    for event in found.events:  # after the commit, like the API's incident writes
        if event.kind == "created":
            await events.created(ctx["publisher"], event.incident)
        else:
            await events.updated(ctx["publisher"], event.incident, event.update)
        log.info(
            "incident %s %s automatically",
            event.incident["id"],
            event.kind,
            extra={"service_id": service_id, "job": "detect_incidents"},
        )
    return len(found.events)


SLOT_WAIT_TRIES = 4  # the prober's sink writes the slot within a second or so of announcing it


def _announced_slot(job_id: str | None) -> datetime | None:
    """The slot of a prober's trigger, whose job id is detect:{service_id}:{epoch seconds}."""
    prefix, _, epoch = (job_id or "").rpartition(":")
    if not prefix.startswith("detect:") or not epoch.isdigit():
        return None
    return datetime.fromtimestamp(int(epoch), timezone.utc)


@retrying
async def detect_incidents(ctx, service_id: str) -> int:
    """Detection for one service now; returns the number of automatic incident actions taken."""
    slot = _announced_slot(ctx.get("job_id"))
    if slot is not None and ctx.get("job_try", 1) < SLOT_WAIT_TRIES:
        async with ctx["pool"].acquire() as conn:
            stored = await detection.slot_stored(conn, service_id, slot)
        if not stored:  # the status change travelled faster than the result it is about
            raise Retry(defer=1)
    return await _detect(ctx, service_id)


@retrying
async def detect_all(ctx) -> dict:
    """Cron: detection for every active service."""
    async with ctx["pool"].acquire() as conn:
        service_ids = await detection.active_service_ids(conn)
    return await each_service("detect_all", service_ids, lambda service_id: _detect(ctx, service_id))
