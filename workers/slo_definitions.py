"""Cron, every minute: every stored SLO definition evaluated (app/slo/definitions/engine.py) for its
services (all active ones when it names none), its violations opened and closed in
slo_definition_violations. A violation opened or closed is recorded as a notification event
(`slo_violation.opened` / `.closed`, the tier violations' kinds, through the same outbox and channels;
its `slo` is `<definition>/<alert>`) in the transaction that wrote it, and announced after the commit
as the realtime event `slo-definition-violation` {definition, serviceId, kind, violation} to the
`slo` room. The tier definitions are not evaluated here: their violations are the tier engine's
(workers/slo.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import asyncpg
from fastapi.encoders import jsonable_encoder

from app.notifications import outbox
from app.services import service as services
from app.slo.definitions import engine, store
from app.slo.definitions.model import Definition
from workers.common import TRANSIENT, Ctx, EventPublisher, retrying

log = logging.getLogger(__name__)
JOB = "evaluate_slo_definitions"
ROOMS = ["slo"]
EVENT = "slo-definition-violation"


def services_of(definition: Definition, active: list[asyncpg.Record]) -> list[str]:
    """The active services a definition evaluates: those it names, or all of them."""
    named = set(definition.services)
    return [s["id"] for s in active if not named or s["id"] in named]


def payload(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The notification payload, shaped as the tier violations' (app/notifications/queries.py)."""
    ended = row["ended_at"]
    return {
        "violation": {
            "id": row["id"],
            "definition": row["definition"],
            "alert": row["alert"],
            "serviceId": row["service_id"],
            "serviceName": names.get(row["service_id"], row["service_id"]),
            "slo": f"{row['definition']}/{row['alert']}",
            "severity": row["severity"],
            "startedAt": row["started_at"].isoformat(),
            "endedAt": None if ended is None else ended.isoformat(),
            "threshold": row["threshold"],
            "worstValue": row["worst_value"],
            "durationSeconds": None if ended is None else int((ended - row["started_at"]).total_seconds()),
            "details": engine.violation_to_public(row, row["started_at"])["details"],
        }
    }


async def record(conn: asyncpg.Connection, changes: list[engine.Change], names: dict[str, str]) -> None:
    """The notification events of the changes, in the caller's transaction."""
    for change in changes:
        row = change.violation
        at = row["started_at"] if change.kind == "opened" else row["ended_at"]
        await outbox.record(
            conn,
            f"slodef:{row['id']}:{change.kind}",
            f"slo_violation.{change.kind}",
            [row["service_id"]],
            jsonable_encoder(payload(row, names)),
            at,
        )


@retrying
async def evaluate_slo_definitions(ctx: Ctx) -> dict[str, list[str] | str]:
    return await sweep(ctx, datetime.now(timezone.utc))


async def sweep(ctx: Ctx, now: datetime) -> dict[str, list[str] | str]:
    """Every stored definition at `now`; per definition the changes ('opened:<service>/<alert>'), or
    'error' when its evaluation failed (logged; the others still run)."""
    zone = ctx["settings"].zone
    found: dict[str, list[engine.Change] | str] = {}
    async with ctx["pool"].acquire() as conn:
        active = await services.list_active(conn)
        names = {s["id"]: s["name"] for s in active}
        async with conn.transaction():
            deleted = await engine.close_deleted(conn)
            await record(conn, deleted, names)
        for change in deleted:
            closed = found.setdefault(change.violation["definition"], [])
            assert isinstance(closed, list)  # only deleted definitions' changes so far
            closed.append(change)
        for stored in await store.list_definitions(conn):
            definition = stored.definition
            try:
                async with conn.transaction():  # the violations and their events: one commit
                    changes = await engine.evaluate(conn, definition, services_of(definition, active), now, zone)
                    await record(conn, changes, names)
            except TRANSIENT:
                raise
            except Exception:  # noqa: BLE001 — one definition's bug: logged, the others still run
                log.exception("SLO definition evaluation failed", extra={"job": JOB, "definition": definition.name})
                found[definition.name] = "error"
                continue
            found[definition.name] = changes
    await announce(ctx["publisher"], found, now)
    return {
        name: changes if isinstance(changes, str) else [_label(c) for c in changes] for name, changes in found.items()
    }


def _label(change: engine.Change) -> str:
    return f"{change.kind}:{change.violation['service_id']}/{change.violation['alert']}"


async def announce(publisher: EventPublisher, found: dict[str, list[engine.Change] | str], now: datetime) -> None:
    for name, changes in found.items():
        if isinstance(changes, str):
            continue
        for change in changes:
            row = change.violation
            await publisher.publish(
                EVENT,
                {
                    "definition": name,
                    "serviceId": row["service_id"],
                    "kind": change.kind,
                    "violation": jsonable_encoder(engine.violation_to_public(row, now)),
                },
                ROOMS,
            )
            log.info(
                "SLO definition violation %s: %s/%s %s",
                change.kind,
                name,
                row["alert"],
                row["severity"],
                extra={"service_id": row["service_id"], "job": JOB},
            )
