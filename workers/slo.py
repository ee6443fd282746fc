"""Cron, every minute: SLO evaluation of every active service (app/slo/evaluation.py), then
`sla-metrics-updated` {serviceId, metrics, changes} to the `uptime` room when the service's SLO
figures or violations changed since the last announcement (metrics: the GET /api/slo/{id} body)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone

from fastapi.encoders import jsonable_encoder

from app.periods import local_date, month
from app.services import service as services
from app.slo import evaluation
from app.slo import service as slo
from workers.common import each_service, retrying

log = logging.getLogger(__name__)
ROOMS = ["uptime"]


def digest(report: dict) -> str:
    """What a change means: the SLO figures and the open violations' severities and worst values
    (not the clock: an open violation's duration grows every minute)."""
    essence = {
        "slos": report["slos"],
        "open": [(v["id"], v["severity"], v["worstValue"]) for v in report["openViolations"]],
    }
    return hashlib.sha256(json.dumps(essence, default=str, sort_keys=True).encode()).hexdigest()


@retrying
async def evaluate_slos(ctx) -> dict:
    """Open, escalate and close violations of every active service; announce what changed."""
    settings = ctx["settings"]
    publisher = ctx["publisher"]
    now = datetime.now(timezone.utc)
    today = local_date(now, settings.zone)
    period = month(today.year, today.month, settings.zone)
    async with ctx["pool"].acquire() as conn:
        for change in await evaluation.close_inactive(conn):
            log.info(
                "SLO violation closed: %s left the catalog",
                change.violation["slo"],
                extra={"service_id": change.violation["service_id"], "job": "evaluate_slos"},
            )
        active = {s["id"]: s for s in await services.list_active(conn)}

        async def one(service_id: str) -> list[str]:
            service = active[service_id]
            changes = await evaluation.evaluate(conn, service, now)
            report = await slo.report(conn, service, period, now, settings.timezone)
            if await publisher.changed(f"slo-digest:{service_id}", digest(report)) or changes:
                await publisher.publish(
                    "sla-metrics-updated",
                    {
                        "serviceId": service_id,
                        "metrics": jsonable_encoder(report),
                        "changes": [
                            {"kind": c.kind, "violation": jsonable_encoder(slo.violation_to_public(c.violation, now))}
                            for c in changes
                        ],
                    },
                    ROOMS,
                )
            for change in changes:
                log.info(
                    "SLO violation %s: %s %s",
                    change.kind,
                    change.violation["slo"],
                    change.violation["severity"],
                    extra={"service_id": service_id, "job": "evaluate_slos"},
                )
            return [f"{c.kind}:{c.violation['slo']}" for c in changes]

        return await each_service("evaluate_slos", list(active), one)
