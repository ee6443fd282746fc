"""The transactional outbox: an event is recorded in the transaction of the write it announces, so a
crash either loses both or neither. Incident writes call `incident_written`; SLO violations and
maintenance windows and SLO forecast alerts are turned into events by the worker's scan (`scan`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from app.contract import JsonObject
from app.notifications import queries

if TYPE_CHECKING:  # app.incidents.service records its writes through this module
    from app.incidents.models import IncidentRead


async def record(
    conn: asyncpg.Connection,
    event_key: str,
    kind: str,
    service_ids: list[str],
    payload: JsonObject,
    occurred_at: datetime,
) -> bool:
    """Add one event unless its key exists; wakes the workers when the transaction commits."""
    inserted = await conn.fetchval(
        queries.INSERT_EVENT,
        event_key,
        kind,
        service_ids,
        json.dumps(payload, default=str, ensure_ascii=False),
        occurred_at,
    )
    if inserted is not None:
        await conn.execute(queries.WAKE, event_key)
    return inserted is not None


def incident_kind(previous_status: str | None, status: str, noted: bool = False) -> str | None:
    """Which event an incident write is: created, resolved, another status change, a new public update
    without a status change (`noted`), or none (an edit of its fields alone)."""
    if previous_status is None:
        return "incident.created"
    if previous_status == status:
        return "incident.updated" if noted else None
    return "incident.resolved" if status == "resolved" else "incident.status_changed"


async def incident_written(
    conn: asyncpg.Connection, incident: IncidentRead, previous_status: str | None, noted: bool = False
) -> None:
    """Record the event of an incident write (public shape, newest update first), inside its transaction;
    `noted`: the write added an update to the timeline."""
    kind = incident_kind(previous_status, incident.status, noted)
    if kind is None:
        return
    suffix = "created" if previous_status is None else f"v{incident.version}"
    payload = {"incident": incident.newest_update_only().to_public(), "previousStatus": previous_status}
    key = f"incident:{incident.id}:{suffix}"
    await record(conn, key, kind, incident.affected_services, payload, incident.updated_at)


async def maintenance_scheduled(conn: asyncpg.Connection, window: asyncpg.Record) -> None:
    """Record that a window was scheduled (announced), inside the transaction that created it; its start
    and end are announced by the worker's scan, at their time."""
    payload = {
        "maintenance": {
            "id": window["id"],
            "title": window["title"],
            "description": window["description"],
            "affectedServices": list(window["affected_services"]),
            "startsAt": window["starts_at"],
            "endsAt": window["ends_at"],
        }
    }
    key = f"maintenance:{window['id']}:scheduled"
    await record(conn, key, "maintenance.scheduled", list(window["affected_services"]), payload, window["announced_at"])


async def scan(conn: asyncpg.Connection, now: datetime, horizon_s: float) -> list[str]:
    """Turn SLO violations and forecast alerts opened/closed, and maintenance windows started/ended, up
    to `now` into events (each once, by key); transitions older than the horizon are history, not news."""
    async with conn.transaction():
        keys = [r["event_key"] for r in await conn.fetch(queries.SCAN_SLO_VIOLATIONS, now, float(horizon_s))]
        keys += [r["event_key"] for r in await conn.fetch(queries.SCAN_FORECAST_ALERTS, now, float(horizon_s))]
        keys += [
            r["event_key"] for r in await conn.fetch(queries.SCAN_DEFINITION_FORECAST_ALERTS, now, float(horizon_s))
        ]
        keys += [r["event_key"] for r in await conn.fetch(queries.SCAN_MAINTENANCE, now, float(horizon_s))]
    return keys
