"""Acknowledgement, wherever it comes from: the console and the API (a signed-in user), the signed link
in a page's email (app/escalation/links.py), and the paging services' callbacks (PagerDuty webhooks,
Opsgenie; app/escalation/callbacks.py). It stops the next levels; the subscriptions paged so far are
told; the timeline and the audit log say who, and through what."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg

from app.errors import ApiError, not_found
from app.escalation import engine, queries
from app.escalation.timeline import record, send
from app.incidents import service as incidents

Via = Literal["api", "email", "pagerduty", "opsgenie"]


@dataclass(frozen=True)
class Acknowledger:
    """Who acknowledges (`name`: a username, an email address, the paging service's user), through
    what, and the signed-in principal when there is one (its audit entry then carries the user id)."""

    name: str
    via: Via
    principal: Any = None
    details: dict[str, Any] = field(default_factory=dict)


async def acknowledge(conn: asyncpg.Connection, incident_id: str, by: Acknowledger, now: datetime) -> None:
    """Stop further levels of an incident's escalation (409 when resolved or acknowledged already)."""
    async with conn.transaction():
        incident = await incidents.get(conn, incident_id)
        if incident is None:
            raise not_found("incident", incident_id)
        if incident.status == "resolved":
            raise ApiError(409, "conflict", f"incident {incident_id!r} is resolved: nothing to acknowledge")
        row = await conn.fetchrow(queries.LOCK, incident_id)
        if row is None:  # acknowledged before the engine's next tick started it: start it now
            policies = await conn.fetch(queries.ENABLED_POLICIES)
            await engine.start_one(
                conn, policies, incident_id, incident.priority, incident.affected_services, incident.created_at, now
            )
            row = await conn.fetchrow(queries.LOCK, incident_id)
        if row is None:
            raise ApiError(
                409, "conflict", f"incident {incident_id!r} has no escalation: no policy applies to it (yet)"
            )
        if row["acknowledged_at"] is not None:
            raise ApiError(
                409,
                "conflict",
                f"incident {incident_id!r} was acknowledged by {row['acknowledged_by']} at "
                f"{row['acknowledged_at'].isoformat()}",
            )
        await conn.execute(queries.ACKNOWLEDGE, incident_id, now, by.name)
        # After a resumption the incident is acknowledged again: a new event, not the first one's key.
        resumptions = await conn.fetchval(queries.RESUMPTIONS, incident_id)
        key = f"escalation:{incident_id}:acknowledged" + (f":{resumptions}" if resumptions else "")
        sent = await send(
            conn,
            key,
            "escalation.acknowledged",
            incident,
            {"acknowledgedBy": by.name, "acknowledgedAt": now, "via": by.via},
            list(row["paged"]),
            now,
        )
        details = {"levelsFired": row["next_level"], "notified": len(sent), "via": by.via, **by.details}
        await record(conn, incident_id, now, "acknowledged", details, actor=by.name, principal=by.principal)


async def state(conn: asyncpg.Connection, incident_id: str) -> dict[str, Any] | None:
    """The escalation row of an incident with its levels decoded (None: none started)."""
    row = await conn.fetchrow(queries.GET_ESCALATION, incident_id)
    if row is None:
        return None
    return {**dict(row), "levels": json.loads(row["levels"])}
