"""The escalation's record and messages, shared by the engine, reminders and acknowledgement: one
timeline entry with its audit entry, and one outbox event for chosen subscriptions (app/notifications
delivers it: attempts, retries, log, signatures, SSRF guard)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from app.audit import service as audit
from app.escalation import queries
from app.incidents.models import IncidentRead
from app.notifications import queries as notification_queries

ENGINE = "escalation"  # the actor of what the engine does, in the timeline and the audit log


async def record(
    conn: asyncpg.Connection,
    incident_id: str,
    at: datetime,
    action: str,
    details: dict[str, Any],
    *,
    level: int | None = None,
    actor: str = ENGINE,
    principal: Any = None,
) -> None:
    """One timeline entry and its audit entry, in the caller's transaction."""
    await conn.execute(queries.LOG, incident_id, at, action, level, actor, json.dumps(details, default=str))
    entry = {**details, "level": level} if level is not None else details
    if principal is not None:
        await audit.record_by(conn, principal, f"escalation.{action}", "incident", incident_id, entry)
    else:
        await audit.record(
            conn, f"escalation.{action}", actor_name=actor, target_type="incident", target_id=incident_id, details=entry
        )


async def send(
    conn: asyncpg.Connection,
    key: str,
    kind: str,
    incident: IncidentRead,
    escalation: dict[str, Any],
    subscription_ids: list[int],
    at: datetime,
) -> list[int]:
    """Record an outbox event for these subscriptions only; wakes the notification workers at commit."""
    if not subscription_ids:
        return []
    payload = {"incident": incident.newest_update_only().to_public(), "escalation": escalation}
    rows = await conn.fetch(
        queries.INSERT_TARGETED,
        key,
        kind,
        incident.affected_services,
        json.dumps(payload, default=str, ensure_ascii=False),
        at,
        subscription_ids,
    )
    await conn.execute(notification_queries.WAKE, key)
    return [r["subscription_id"] for r in rows]
