"""The escalation engine (run by the worker every 5 s, workers/escalation.py); acknowledgement is in
acknowledge.py, reminders and resumption in reminders.py, who a level pages in targets.py.

State is in the database (incident_escalations, sql/210), so timing does not depend on any one
process: a level is due at the incident's start + its delay, and firing it is one transaction that
records the outbox event with its deliveries, advances the level and writes the timeline and the audit
log; the row lock (SKIP LOCKED) and the level index make each level fire once, whichever worker runs
and however late. Delivery itself (attempts, retries, log, signatures, SSRF guard) is the outbox's.

Events, each sent only to the subscriptions concerned (not fanned out by their filters):
`escalation.paged` to a level's subscriptions; `escalation.acknowledged` and `escalation.resolved`
to every subscription paged for the incident (so a paging service's alert follows ours)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from app.errors import not_found
from app.escalation import queries, reminders, targets
from app.escalation.timeline import record, send
from app.formatting import utc_iso
from app.incidents import service as incidents

log = logging.getLogger(__name__)


def applicable_levels(policy: asyncpg.Record, priority: str) -> list[dict[str, Any]]:
    return [lv for lv in json.loads(policy["levels"]) if not lv["priorities"] or priority in lv["priorities"]]


def choose_policy(
    policies: list[asyncpg.Record], priority: str, services: list[str]
) -> tuple[asyncpg.Record, list[dict[str, Any]]] | None:
    """The first enabled policy (by position) whose conditions the incident meets, with its levels for
    the incident's priority; None when none applies or no level is left."""
    for policy in policies:
        if policy["priorities"] and priority not in policy["priorities"]:
            continue
        if policy["service_ids"] and not set(policy["service_ids"]) & set(services):
            continue
        levels = applicable_levels(policy, priority)
        return (policy, levels) if levels else None
    return None


def _due_at(started_at: datetime, levels: list[dict[str, Any]], index: int) -> datetime | None:
    return started_at + timedelta(seconds=levels[index]["delaySeconds"]) if index < len(levels) else None


async def start(conn: asyncpg.Connection, now: datetime, horizon_s: float) -> list[str]:
    """Start the escalation of every open incident a policy applies to (incidents older than the
    horizon are history: a fresh installation does not page for them)."""
    candidates = await conn.fetch(queries.UNSTARTED_INCIDENTS, now, float(horizon_s))
    if not candidates:
        return []
    policies = await conn.fetch(queries.ENABLED_POLICIES)
    started = []
    for incident in candidates:
        async with conn.transaction():
            if await start_one(
                conn,
                policies,
                incident["id"],
                incident["priority"],
                incident["affected_services"],
                incident["created_at"],
                now,
            ):
                started.append(incident["id"])
    return started


async def start_one(
    conn: asyncpg.Connection,
    policies: list[asyncpg.Record],
    incident_id: str,
    priority: str,
    services: list[str],
    begun: datetime,
    now: datetime,
) -> bool:
    chosen = choose_policy(policies, priority, list(services))
    if chosen is None:
        return False
    policy, levels = chosen
    inserted = await conn.fetchval(
        queries.START, incident_id, policy["id"], json.dumps(levels), begun, _due_at(begun, levels, 0)
    )
    if inserted is not None:
        await record(conn, incident_id, now, "started", {"policyId": policy["id"], "levels": levels})
    return inserted is not None


async def fire_due(conn: asyncpg.Connection, now: datetime) -> list[tuple[str, int]]:
    """Fire every level due by `now`, in order, each once; returns (incident, level) fired (1-based)."""
    fired: list[tuple[str, int]] = []
    for due in await conn.fetch(queries.DUE, now):
        async with conn.transaction():
            row = await conn.fetchrow(queries.LOCK_DUE, due["incident_id"], now)
            if row is None or row["status"] == "resolved":  # fired elsewhere meanwhile, or closed next
                continue
            fired += await _fire(conn, row, now)
    return fired


async def _fire(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> list[tuple[str, int]]:
    incident_id, levels = row["incident_id"], json.loads(row["levels"])
    incident = await incidents.get(conn, incident_id)
    assert incident is not None  # the row was joined to it under lock
    index, paged, fired = row["next_level"], [], []
    while (due := _due_at(row["started_at"], levels, index)) is not None and due <= now:
        level = levels[index]
        resolved = await targets.resolve(conn, level, now)
        escalation = {"policyId": row["policy_id"], "level": index + 1, "levels": len(levels), **level}
        sent = await send(
            conn,
            f"escalation:{incident_id}:level:{index + 1}",
            "escalation.paged",
            incident,
            escalation,
            resolved.subscription_ids,
            now,
        )
        details = {"policyId": row["policy_id"], "dueAt": utc_iso(due), **resolved.details(), "deliveries": len(sent)}
        await record(conn, incident_id, now, "paged", details, level=index + 1)
        paged += sent
        fired.append((incident_id, index + 1))
        index += 1
    await conn.execute(queries.ADVANCE, incident_id, index, _due_at(row["started_at"], levels, index), paged)
    return fired


async def close_resolved(conn: asyncpg.Connection, now: datetime) -> list[str]:
    """Stop the escalations of resolved (or deleted) incidents; the paged subscriptions are told."""
    closed = []
    for row in await conn.fetch(queries.TO_CLOSE):
        incident_id = row["incident_id"]
        async with conn.transaction():
            reason = "deleted" if row["deleted"] else "resolved"
            if await conn.fetchval(queries.CLOSE, incident_id, now, reason) is None:
                continue
            if row["deleted"]:
                continue  # the timeline went with the incident (sql/210 trigger)
            incident = await incidents.get(conn, incident_id)
            assert incident is not None
            paged = list(row["paged"])
            sent = await send(
                conn, f"escalation:{incident_id}:resolved", "escalation.resolved", incident, {}, paged, now
            )
            await record(conn, incident_id, now, "resolved", {"notified": len(sent)})
        closed.append(incident_id)
    return closed


async def tick(
    conn: asyncpg.Connection, now: datetime, horizon_s: float, reminder_s: float = 0, resume_s: float = 0
) -> dict[str, int]:
    """One pass: start new escalations, close resolved ones, fire due levels, remind the quiet
    acknowledged ones and resume those still quiet `resume_s` after their reminder."""
    started = await start(conn, now, horizon_s)
    closed = await close_resolved(conn, now)
    resumed = await reminders.resume(conn, now, resume_s)
    fired = await fire_due(conn, now)
    reminded = await reminders.remind(conn, now, reminder_s, resume_s)
    counts = {
        "started": len(started),
        "fired": len(fired),
        "closed": len(closed),
        "reminded": len(reminded),
        "resumed": len(resumed),
    }
    if any(counts.values()):
        log.info(
            "escalation: %(started)d started, %(fired)d levels fired, %(closed)d closed, %(reminded)d reminded, "
            "%(resumed)d resumed",
            counts,
            extra={"job": "escalate"},
        )
    return counts


async def read(conn: asyncpg.Connection, incident_id: str) -> dict[str, Any] | None:
    """An incident's escalation and its timeline (404 for an unknown incident; None: none started)."""
    if await incidents.get(conn, incident_id) is None:
        raise not_found("incident", incident_id)
    row = await conn.fetchrow(queries.GET_ESCALATION, incident_id)
    if row is None:
        return None
    levels = json.loads(row["levels"])
    timeline = [
        {**dict(r), "details": json.loads(r["details"])} for r in await conn.fetch(queries.TIMELINE, incident_id)
    ]
    open_level = row["next_level"] < len(levels) and row["stopped_at"] is None
    return {
        "incidentId": incident_id,
        "policyId": row["policy_id"],
        "startedAt": row["started_at"],
        "levels": levels,
        "nextLevel": row["next_level"] + 1 if open_level else None,
        "nextAt": row["next_at"] if open_level else None,
        "acknowledgedAt": row["acknowledged_at"],
        "acknowledgedBy": row["acknowledged_by"],
        "stoppedAt": row["stopped_at"],
        "stopReason": row["stop_reason"],
        "timeline": timeline,
    }
