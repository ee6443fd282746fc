"""Incident detection jobs: `detect_incidents(ctx, service_id)`, enqueued by the prober on every status
change (prober/status.py), and the every-minute cron over all active services, the safety net for
a lost trigger. Both run app.detection.service.detect, serialised per service by a database lock."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from app.detection import service as detection
from app.incidents import events
from workers.common import retrying

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
        await ctx["redis"].enqueue_job("detect_incidents", service_id, _job_id=f"detect-watch:{service_id}:{tick}",
                                       _defer_by=found.interval_s)
    for event in found.events:  # after the commit, like the API's incident writes
        if event.kind == "created":
            await events.created(ctx["publisher"], event.incident)
        else:
            await events.updated(ctx["publisher"], event.incident, event.update)
        log.info("incident %s %s automatically", event.incident["id"], event.kind,
                 extra={"service_id": service_id, "job": "detect_incidents"})
    return len(found.events)


@retrying
async def detect_incidents(ctx, service_id: str) -> int:
    """Detection for one service now; returns the number of automatic incident actions taken."""
    return await _detect(ctx, service_id)


@retrying
async def detect_all(ctx) -> dict:
    """Cron: detection for every active service."""
    async with ctx["pool"].acquire() as conn:
        service_ids = await detection.active_service_ids(conn)
    return {service_id: await _detect(ctx, service_id) for service_id in service_ids}
