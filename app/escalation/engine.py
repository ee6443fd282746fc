"""The escalation engine (run by the worker every 5 s, workers/escalation.py) and acknowledgement.

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

from app.audit import service as audit
from app.errors import ApiError, not_found
from app.escalation import queries
from app.formatting import utc_iso
from app.incidents import service as incidents
from app.notifications import queries as notification_queries

log = logging.getLogger(__name__)
ENGINE = "escalation"  # the actor of what the engine does, in the timeline and the audit log


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


async def _log(
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


async def _send(
    conn: asyncpg.Connection,
    key: str,
    kind: str,
    incident: dict[str, Any],
    escalation: dict[str, Any],
    subscription_ids: list[int],
    at: datetime,
) -> list[int]:
    """Record an outbox event for these subscriptions only; wakes the notification workers at commit."""
    if not subscription_ids:
        return []
    payload = {"incident": {**incident, "updates": incident["updates"][:1]}, "escalation": escalation}
    rows = await conn.fetch(
        queries.INSERT_TARGETED,
        key,
        kind,
        incident["affectedServices"],
        json.dumps(payload, default=str, ensure_ascii=False),
        at,
        subscription_ids,
    )
    await conn.execute(notification_queries.WAKE, key)
    return [r["subscription_id"] for r in rows]


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
            if await _start_one(
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


async def _start_one(
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
        await _log(conn, incident_id, now, "started", {"policyId": policy["id"], "levels": levels})
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
        named = await conn.fetch(queries.SUBSCRIPTIONS_NAMED, level["subscriptions"])
        escalation = {"policyId": row["policy_id"], "level": index + 1, "levels": len(levels), **level}
        sent = await _send(
            conn,
            f"escalation:{incident_id}:level:{index + 1}",
            "escalation.paged",
            incident,
            escalation,
            [r["id"] for r in named],
            now,
        )
        found = {r["name"] for r in named}
        details = {
            "policyId": row["policy_id"],
            "dueAt": utc_iso(due),
            "subscriptions": sorted(found),
            "missing": [name for name in level["subscriptions"] if name not in found],
            "deliveries": len(sent),
        }
        await _log(conn, incident_id, now, "paged", details, level=index + 1)
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
            sent = await _send(
                conn, f"escalation:{incident_id}:resolved", "escalation.resolved", incident, {}, paged, now
            )
            await _log(conn, incident_id, now, "resolved", {"notified": len(sent)})
        closed.append(incident_id)
    return closed


async def remind(conn: asyncpg.Connection, now: datetime, reminder_s: float) -> list[str]:
    """Remind the paged subscriptions of acknowledged open incidents without an update for
    `reminder_s` (then again every `reminder_s` while it stays quiet)."""
    if reminder_s <= 0:
        return []
    reminded = []
    async with conn.transaction():
        for row in await conn.fetch(queries.TO_REMIND, now, float(reminder_s)):
            incident_id = row["incident_id"]
            incident = await incidents.get(conn, incident_id)
            assert incident is not None
            quiet_since = row["quiet_since"]
            sent = await _send(
                conn,
                f"escalation:{incident_id}:reminder:{int(quiet_since.timestamp())}",
                "escalation.reminder",
                incident,
                {"quietSince": utc_iso(quiet_since), "reminderSeconds": reminder_s},
                list(row["paged"]),
                now,
            )
            await conn.execute(queries.REMINDED, incident_id, now)
            await _log(conn, incident_id, now, "reminded", {"quietSince": utc_iso(quiet_since), "notified": len(sent)})
            reminded.append(incident_id)
    return reminded


async def tick(conn: asyncpg.Connection, now: datetime, horizon_s: float, reminder_s: float = 0) -> dict[str, int]:
    started = await start(conn, now, horizon_s)
    closed = await close_resolved(conn, now)
    fired = await fire_due(conn, now)
    reminded = await remind(conn, now, reminder_s)
    if started or fired or closed or reminded:
        log.info(
            "escalation: %d started, %d levels fired, %d closed, %d reminded",
            len(started),
            len(fired),
            len(closed),
            len(reminded),
            extra={"job": "escalate"},
        )
    return {"started": len(started), "fired": len(fired), "closed": len(closed), "reminded": len(reminded)}


async def acknowledge(conn: asyncpg.Connection, incident_id: str, principal: Any, now: datetime) -> None:
    """Stop further levels of an incident's escalation; the subscriptions paged so far are told."""
    async with conn.transaction():
        incident = await incidents.get(conn, incident_id)
        if incident is None:
            raise not_found("incident", incident_id)
        if incident["status"] == "resolved":
            raise ApiError(409, "conflict", f"incident {incident_id!r} is resolved: nothing to acknowledge")
        row = await conn.fetchrow(queries.LOCK, incident_id)
        if row is None:  # acknowledged before the engine's next tick started it: start it now
            policies = await conn.fetch(queries.ENABLED_POLICIES)
            begun = datetime.fromisoformat(incident["createdAt"])
            await _start_one(
                conn, policies, incident_id, incident["priority"], incident["affectedServices"], begun, now
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
        await conn.execute(queries.ACKNOWLEDGE, incident_id, now, principal.username)
        sent = await _send(
            conn,
            f"escalation:{incident_id}:acknowledged",
            "escalation.acknowledged",
            incident,
            {"acknowledgedBy": principal.username, "acknowledgedAt": now},
            list(row["paged"]),
            now,
        )
        await _log(
            conn,
            incident_id,
            now,
            "acknowledged",
            {"levelsFired": row["next_level"], "notified": len(sent)},
            actor=principal.username,
            principal=principal,
        )


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
