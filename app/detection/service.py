"""Automatic incident detection for one service: replay its new slots through the rules (rules.py)
and act through the incidents service, so that versions, the timeline, the audit log and the
realtime events are those of a manual write, with "monitoring system" as the actor.

Maintenance windows: slots inside a window of the service are not judged (excluded like from every
SLA figure): they neither open, escalate, recover nor resolve incidents, and they do not break a run.
Auto-resolution: after the recovery (5 good slots → monitoring), `auto_resolve_minutes` more of good
slots resolve the incident with a note saying so; 0 leaves resolving to people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from app.audit import service as audit
from app.detection import queries, rules
from app.detection.rules import CAUSE_FAILURES, CAUSE_SEVERE, Action, Runs, Slot
from app.incidents import flow
from app.incidents import service as incidents
from app.incidents.models import IncidentCreate, IncidentRead, IncidentUpdate, StatusUpdateCreate, UpdateRead

REPORTER = "monitoring system"
MONITORING_SYSTEM = incidents.SystemActor(REPORTER)
SETTLE_MARGIN = timedelta(seconds=15)  # a slot is settled once its timeout and this have passed
SETTLE_STEP = timedelta(seconds=1)  # (strictly: the first run after that instant)
FIRST_LOOKBACK_SLOTS = 10  # a service seen for the first time: judge its last 10 slots
MAX_CATCH_UP = timedelta(hours=6)  # after a long worker outage, older slots are skipped
CONFLICT_RETRIES = 5


@dataclass
class Event:
    """A realtime event to publish once the transaction has committed."""

    kind: str  # created | updated
    incident: IncidentRead
    update: UpdateRead | None = None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)


def target_text(latency_ms: int) -> str:
    """7000 -> '7 s', 7500 -> '7.5 s', 800 -> '800 ms'."""
    if latency_ms < 1000:
        return f"{latency_ms} ms"
    return f"{latency_ms / 1000:g} s"


def _at(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def criteria(cause: str, target_ms: int) -> str:
    if cause == CAUSE_FAILURES:
        return f"{rules.STREAK_SLOTS} consecutive failed checks"
    limit = rules.SEVERE_LATENCY_MS if cause == CAUSE_SEVERE else target_ms
    return f"{rules.STREAK_SLOTS} consecutive responses over {target_text(limit)}"


def _title(cause: str, name: str) -> str:
    return {CAUSE_FAILURES: f"{name} is down", CAUSE_SEVERE: f"{name} responds very slowly"}.get(
        cause, f"{name} responds slowly"
    )


def _span(action: Action) -> str:
    run = action.run
    if len(run) < action.length:
        return f"up to {_at(run[-1].ts)}"
    return f"from {_at(run[0].ts)} to {_at(run[-1].ts)}" if len(run) > 1 else f"at {_at(run[0].ts)}"


# What failed, in a status-page reader's words: public notes never carry a check's raw error, which
# may name the target's URL, host or address ("Cannot connect to host 10.0.3.7:8443 ...").
FAILURE_WORDS = {
    "timeout": "no answer in time",
    "connection_error": "the service could not be reached",
    "dns_error": "the service's address could not be found",
    "tls_error": "no secure connection could be established",
    "http_error": "error responses",
    "assertion_failed": "unexpected responses",
}


def failure_words(error_type: str, status_code: int | None) -> str:
    """'HTTP 503 responses', 'no answer in time', ... for one kind of failed check."""
    if error_type == "http_error" and status_code:
        return f"HTTP {status_code} responses"
    return FAILURE_WORDS.get(error_type, "failed checks")


def failure_summary(rows: list[asyncpg.Record]) -> str:
    """The kinds of failure of a run, most frequent first (at most 3), with their counts."""
    counts: dict[str, int] = {}
    for r in rows:
        words = failure_words(r["error_type"], r["status_code"])
        counts[words] = counts.get(words, 0) + r["n"]
    return "; ".join(f"{words} ×{n}" for words, n in sorted(counts.items(), key=lambda c: -c[1])[:3])


async def _failures(conn: asyncpg.Connection, service: asyncpg.Record, action: Action) -> list[asyncpg.Record]:
    if action.cause != CAUSE_FAILURES or action.kind not in ("open", "escalate", "recur"):
        return []
    return await conn.fetch(queries.FAILURE_SUMMARY, service["id"], [s.ts for s in action.run])


def _run_text(service: asyncpg.Record, action: Action, failures: list[asyncpg.Record]) -> str:
    if action.cause == CAUSE_FAILURES:
        what = failure_summary(failures)
        return f"{action.length} consecutive failed checks {_span(action)}" + (f" ({what})" if what else "")
    latencies = ", ".join(f"{s.latency_ms} ms" for s in action.run[-5:])
    return f"{criteria(action.cause, service['latency_target_ms'])} {_span(action)} (latest: {latencies})"


def _note(
    service: asyncpg.Record, action: Action, auto_resolve_minutes: int, moves: bool, failures: list[asyncpg.Record]
) -> str:
    if action.kind == "open":
        return f"Detected automatically by the monitoring system: {_run_text(service, action, failures)}."
    if action.kind == "escalate":
        return f"Escalated automatically to P2: {_run_text(service, action, failures)}."
    if action.kind == "recur":
        return f"The problem is back: {_run_text(service, action, failures)}. The incident stays open."
    good = f"{action.length} consecutive good checks {_span(action)}"
    if action.kind == "recover":
        moved = "Moved to monitoring automatically by the monitoring system" if moves else "Status left as it is"
        return f"Recovered: {good}. {moved}; resolve it once the cause is understood."
    return (
        f"Resolved automatically by the monitoring system: {good}, {auto_resolve_minutes} min of good checks "
        f"or more. Reopen it if the problem persists."
    )


async def _write(
    conn: asyncpg.Connection, incident_id: str, write: Callable[[int], Awaitable[incidents.Written]]
) -> incidents.Written:
    """An incident write at the current version; a concurrent human write is merged by re-reading."""
    for attempt in range(CONFLICT_RETRIES):
        row = await conn.fetchrow(queries.INCIDENT, incident_id)
        assert row is not None  # the family's open incident, locked with its service (detect)
        version = row["version"]
        try:
            return await write(version)
        except incidents.IncidentConflict:
            if attempt == CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _act(
    conn: asyncpg.Connection,
    service: asyncpg.Record,
    family: str,
    incident_id: str | None,
    action: Action,
    auto_resolve_minutes: int,
    status: str | None,
) -> tuple[str, Event]:
    """Take the action: open an incident, or write to the family's open one (`incident_id`, at `status`)."""
    target = {"recover": "monitoring", "resolve": "resolved"}.get(action.kind)
    if target is not None and status is not None and (status == target or not flow.transition_allowed(status, target)):
        target = None  # a note only: the status is there already, or the flow never goes backwards
    failures = await _failures(conn, service, action)
    note = _note(service, action, auto_resolve_minutes, target is not None, failures)
    if action.kind == "open":
        data = IncidentCreate(
            title=_title(action.cause, service["name"]),
            description=f"The monitoring system detected {criteria(action.cause, service['latency_target_ms'])} "
            f"on {service['name']} from {_at(action.run[0].ts)}.",
            severity=rules.SEVERITY[action.cause],
            priority=rules.PRIORITY[action.cause],
            affected_services=[service["id"]],
            reporter=REPORTER,
            detection_criteria=criteria(action.cause, service["latency_target_ms"]),
            note=note,
        )
        incident = await incidents.create(conn, data, MONITORING_SYSTEM)
        incident_id = incident.id
        await conn.execute(queries.MARK_DETECTED, incident_id, action.cause, service["id"])
        event = Event("created", incident)
    elif incident_id is None:
        raise AssertionError(f"detection: {action.kind} without an open incident")
    elif action.kind == "escalate":
        body = IncidentUpdate(
            priority=rules.PRIORITY[action.cause],
            severity=rules.SEVERITY[action.cause],
            detection_criteria=criteria(action.cause, service["latency_target_ms"]),
            note=note,
        )
        written = await _write(
            conn, incident_id, lambda v: incidents.update(conn, incident_id, body, v, MONITORING_SYSTEM)
        )
        await conn.execute(queries.MARK_DETECTED, incident_id, action.cause, service["id"])
        event = Event("updated", written.incident, written.update, written.changes)
    else:
        entry = StatusUpdateCreate(status=target, description=note)
        written = await _write(
            conn, incident_id, lambda v: incidents.add_update(conn, incident_id, entry, v, MONITORING_SYSTEM)
        )
        event = Event("updated", written.incident, written.update, written.changes)
    await audit.record(
        conn,
        f"detection.{action.kind}",
        actor_name=REPORTER,
        target_type="incident",
        target_id=incident_id,
        details={
            "service": service["id"],
            "family": family,
            "cause": action.cause,
            "slot": action.slot.ts.isoformat(),
            "slots": action.length,
            # admins see the raw errors here, never in public notes
            "errors": [
                {
                    "error_type": r["error_type"],
                    "status_code": r["status_code"],
                    "error_message": r["error_message"][:500],
                    "checks": r["n"],
                }
                for r in failures[:5]
            ],
        },
    )
    return incident_id, event


async def _family_incident(
    conn: asyncpg.Connection, service_id: str, family: str, incident_id: str | None
) -> asyncpg.Record | None:
    """The family's open incident row (adopting one the state lost track of), or None."""
    row = await conn.fetchrow(queries.INCIDENT, incident_id) if incident_id else None
    if row is None or row["status"] == "resolved":
        adopted = await conn.fetchval(queries.OPEN_DETECTED, service_id, family)
        row = await conn.fetchrow(queries.INCIDENT, adopted) if adopted else None
    return row


@dataclass
class Detection:
    events: list[Event]
    watching: bool = False  # a detected incident is open: its recovery is due slot by slot
    interval_s: int = 60
    # When time alone changes what detection of the service does (_due_at); None: only a new write
    # or a change of the service or its maintenance windows can.
    due_at: datetime | None = None


async def detect(conn: asyncpg.Connection, service_id: str, now: datetime, auto_resolve_minutes: int) -> Detection:
    """Judge the service's new slots; open, escalate, recover or resolve its detected incidents."""
    result = Detection([])
    async with conn.transaction():
        await conn.execute(queries.LOCK_SERVICE, service_id)
        service = await conn.fetchrow(queries.SERVICE, service_id)
        if service is None or not service["is_active"]:
            return result
        result.interval_s = service["interval_s"]
        interval = timedelta(seconds=service["interval_s"])
        for family in rules.FAMILIES:
            await conn.execute(queries.ENSURE_STATE, service_id, family, now - FIRST_LOOKBACK_SLOTS * interval)
        states = {r["family"]: r for r in await conn.fetch(queries.STATE, service_id)}
        since = max(min(s["anchor_ts"] for s in states.values()), now - MAX_CATCH_UP)
        slots = [
            Slot(r["ts"], r["ok"], r["latency_ms"]) for r in await conn.fetch(queries.SLOTS, service_id, since, now)
        ]
        settle_s = timedelta(seconds=float(service["timeout_s"])) + SETTLE_MARGIN
        settled_before = now - settle_s
        auto_resolve_slots = -(-auto_resolve_minutes * 60 // service["interval_s"]) if auto_resolve_minutes else 0
        for family in rules.FAMILIES:
            events, open_incident = await _detect_family(
                conn,
                service,
                family,
                states[family],
                slots,
                settled_before,
                auto_resolve_slots,
                auto_resolve_minutes,
                now,
            )
            result.events += events
            result.watching = result.watching or open_incident
        result.due_at = await _due_at(conn, service_id, slots, settle_s, now)
    return result


def replayed(
    service: asyncpg.Record,
    family: str,
    state: asyncpg.Record,
    row: asyncpg.Record | None,
    slots: list[Slot],
    settled_before: datetime,
    auto_resolve_slots: int,
    now: datetime,
) -> tuple[rules.Incident | None, datetime, rules.Replay]:
    """The family's open incident as the replay starts, its anchor, and the replay of the slots after it
    (`row`: the family's incident row, _family_incident's)."""
    phase = state["phase"] if row is not None and row["id"] == state["incident_id"] else "problem"
    incident = rules.Incident(row["cause"] or family, phase or "problem", row["status"]) if row else None
    anchor_ts = max(state["anchor_ts"], now - MAX_CATCH_UP)
    result = rules.replay(
        family,
        [s for s in slots if s.ts > anchor_ts],
        Runs(state["bad_run"], state["severe_run"], state["good_run"]),
        incident,
        service["latency_target_ms"],
        settled_before,
        state["last_action_ts"],
        auto_resolve_slots,
    )
    return incident, anchor_ts, result


async def _detect_family(
    conn: asyncpg.Connection,
    service: asyncpg.Record,
    family: str,
    state: asyncpg.Record,
    slots: list[Slot],
    settled_before: datetime,
    auto_resolve_slots: int,
    auto_resolve_minutes: int,
    now: datetime,
) -> tuple[list[Event], bool]:
    row = await _family_incident(conn, service["id"], family, state["incident_id"])
    incident, anchor_ts, result = replayed(service, family, state, row, slots, settled_before, auto_resolve_slots, now)
    incident_id = row["id"] if row else None
    status = row["status"] if row else None
    events, last_action_ts = [], state["last_action_ts"]
    current = incident
    for action in result.actions:
        incident_id, event = await _act(conn, service, family, incident_id, action, auto_resolve_minutes, status)
        status = event.incident.status
        current = rules.apply(current, action.kind, action.cause)
        if current is None:
            incident_id = None
        events.append(event)
        last_action_ts = action.slot.ts
    anchor_ts, runs = result.anchor or (anchor_ts, Runs(state["bad_run"], state["severe_run"], state["good_run"]))
    await conn.execute(
        queries.SAVE_STATE,
        service["id"],
        family,
        anchor_ts,
        runs.bad,
        runs.severe,
        runs.good,
        incident_id,
        current.phase if current else None,
        last_action_ts,
    )
    return events, current is not None


async def _due_at(
    conn: asyncpg.Connection, service_id: str, slots: list[Slot], settle_s: timedelta, now: datetime
) -> datetime | None:
    """When time alone changes what a run of detection does for the service (Detection.due_at): a
    slot stored ahead of the clock comes due, or the oldest slot not settled yet settles. The state's
    anchor moves over each slot as it settles, as a full sweep every minute moves it: the notes of a
    later action name the slots replayed from there, and a slot the anchor has not passed would be
    skipped after the 6-hour catch-up limit."""
    return due_at(slots, settle_s, now, await conn.fetchval(queries.NEXT_SLOT, service_id, now))


def due_at(slots: list[Slot], settle_s: timedelta, now: datetime, later: datetime | None) -> datetime | None:
    """_due_at, given the first slot stored after `now` (`later`)."""
    due = [slot.ts + settle_s + SETTLE_STEP for slot in slots if slot.ts >= now - settle_s][:1]
    return min([*due, *([later] if later is not None else [])], default=None)


async def slot_stored(conn: asyncpg.Connection, service_id: str, slot: datetime) -> bool:
    return bool(await conn.fetchval(queries.SLOT_STORED, service_id, slot))


async def active_service_ids(conn: asyncpg.Connection) -> list[str]:
    return [r["id"] for r in await conn.fetch(queries.ACTIVE_SERVICE_IDS)]
