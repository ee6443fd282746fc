"""Cron, every minute: SLO evaluation (app/slo/evaluation.py) of the active services whose inputs
changed since the last run or whose result time alone changes now (app/slo/sweep.py), then
`sla-metrics-updated` {serviceId, metrics, changes} to the `uptime` room when the service's SLO
figures or violations changed since the last announcement (metrics: the GET /api/slo/{id} body)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from typing import Any

from fastapi.encoders import jsonable_encoder

from app.periods import local_date, month
from app.services import service as services
from app.slo import evaluation, sweep
from app.slo import service as slo
from workers.common import Ctx, each_service, retrying

log = logging.getLogger(__name__)
ROOMS = ["uptime"]


def digest(report: dict[str, Any]) -> str:
    """What a change means: the SLO figures and the open violations' severities and worst values
    (not the clock: an open violation's duration grows every minute)."""
    essence = {
        "slos": report["slos"],
        "open": [(v["id"], v["severity"], v["worstValue"]) for v in report["openViolations"]],
    }
    return hashlib.sha256(json.dumps(essence, default=str, sort_keys=True).encode()).hexdigest()


@retrying
async def evaluate_slos(ctx: Ctx) -> dict[str, list[str] | str]:
    """Open, escalate and close violations of the services due; announce what changed."""
    return await sweep_slos(ctx, datetime.now(timezone.utc))


async def sweep_slos(ctx: Ctx, now: datetime, *, full: bool = False) -> dict[str, list[str] | str]:
    """The SLO evaluation at `now`; `full`: every active service, whatever changed (the reference the
    incremental sweep is tested and benchmarked against)."""
    settings = ctx["settings"]
    publisher = ctx["publisher"]
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
        work = await sweep.plan(conn, now, period.label, list(active), full=full)

        async def one(service_id: str) -> list[str]:
            service = active[service_id]
            async with conn.transaction():  # one commit for both
                evaluated = await sweep.evaluate(conn, service, now, work[service_id])
                await sweep.finish(conn, work[service_id], now, evaluated)
            changes = evaluated.changes
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

        return await each_service("evaluate_slos", [s for s in active if s in work], one)
