"""The automatic incident rules of docs/sla-math.md "Incidents", as a pure replay of a service's slots.

Two rule families per service, each with its own runs of consecutive slots:
- failures: 3 consecutive failed slots open a P1 (cause 'failures');
- latency: 3 consecutive ok slots slower than the service's latency target open a P3 ('latency'),
  3 consecutive ok slots slower than 15 s open a P2 ('latency_severe') or escalate the open P3.
  A failed slot breaks latency runs (failures are the other family's business).
While an incident is open: 5 consecutive good slots move it to `monitoring` (phase 'recovered');
3 bad slots after that are a recurrence (a note; the flow never goes backwards); and, when enabled,
`auto_resolve_slots` consecutive good slots after the recovery resolve it, with a note saying so.
Rules act on threshold crossings, so a long run acts once, and a crossing at a slot not newer than
the last action (a replayed slot) does nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

STREAK_SLOTS = 3
RECOVERY_SLOTS = 5
SEVERE_LATENCY_MS = 15_000

FAILURES, LATENCY = "failures", "latency"
FAMILIES = (FAILURES, LATENCY)
CAUSE_FAILURES, CAUSE_LATENCY, CAUSE_SEVERE = "failures", "latency", "latency_severe"
PRIORITY = {CAUSE_FAILURES: "P1", CAUSE_SEVERE: "P2", CAUSE_LATENCY: "P3"}
SEVERITY = {CAUSE_FAILURES: "critical", CAUSE_SEVERE: "high", CAUSE_LATENCY: "medium"}


@dataclass(frozen=True)
class Slot:
    ts: datetime
    ok: bool
    latency_ms: int | None


@dataclass(frozen=True)
class Runs:
    bad: int = 0  # failed slots (failures) or slow ok slots (latency)
    severe: int = 0  # ok slots slower than 15 s (latency)
    good: int = 0

    def after(self, slot: Slot, family: str, target_ms: int) -> Runs:
        if family == FAILURES:
            return Runs(0, 0, self.good + 1) if slot.ok else Runs(self.bad + 1, 0, 0)
        if not slot.ok:
            return Runs()
        latency = slot.latency_ms or 0
        if latency <= target_ms:
            return Runs(0, 0, self.good + 1)
        return Runs(self.bad + 1, self.severe + 1 if latency > SEVERE_LATENCY_MS else 0, 0)


@dataclass(frozen=True)
class Incident:
    """What the replay needs to know of the family's open incident."""

    cause: str
    phase: str  # 'problem' | 'recovered'
    status: str


@dataclass(frozen=True)
class Action:
    kind: str  # open | escalate | recover | recur | resolve
    cause: str
    slot: Slot  # the slot whose result crossed the threshold
    length: int  # slots in the run that made the crossing
    run: tuple[Slot, ...]  # those of them replayed this time (all, unless the run began before the anchor)


@dataclass
class Replay:
    actions: list[Action] = field(default_factory=list)
    anchor: tuple[datetime, Runs] | None = None  # the newest settled slot and the runs there
    incident: Incident | None = None  # the family's incident after the actions


def crossing(family: str, runs: Runs, incident: Incident | None, auto_resolve_slots: int) -> tuple[str, str] | None:
    """The (action, cause) a slot's new runs call for, given the family's open incident (or None)."""
    if family == LATENCY and runs.severe == STREAK_SLOTS:
        if incident is None:
            return "open", CAUSE_SEVERE
        if incident.cause == CAUSE_LATENCY:
            return "escalate", CAUSE_SEVERE
        return ("recur", incident.cause) if incident.phase == "recovered" else None
    if runs.bad == STREAK_SLOTS:
        if incident is None:
            return "open", CAUSE_FAILURES if family == FAILURES else CAUSE_LATENCY
        return ("recur", incident.cause) if incident.phase == "recovered" else None
    if incident is None:
        return None
    if runs.good == RECOVERY_SLOTS and incident.phase == "problem":
        return "recover", incident.cause
    if (
        auto_resolve_slots
        and runs.good == max(auto_resolve_slots, RECOVERY_SLOTS + 1)
        and incident.phase == "recovered"
        and incident.status == "monitoring"
    ):
        return "resolve", incident.cause
    return None


def apply(incident: Incident | None, kind: str, cause: str) -> Incident | None:
    """The family's incident as the action leaves it."""
    if kind == "open":
        return Incident(cause, "problem", "investigating")
    if kind == "resolve":
        return None
    assert incident is not None
    if kind == "escalate":
        return replace(incident, cause=cause, phase="problem")
    if kind == "recover":
        return replace(
            incident, phase="recovered", status="monitoring" if incident.status != "resolved" else incident.status
        )
    return replace(incident, phase="problem")  # recur


def replay(
    family: str,
    slots: list[Slot],
    start: Runs,
    incident: Incident | None,
    target_ms: int,
    settled_before: datetime,
    last_action_ts: datetime | None,
    auto_resolve_slots: int,
) -> Replay:
    """Fold slots (oldest first, newer than the anchor) into the runs; the actions their crossings call for."""
    result = Replay(incident=incident)
    runs = start
    history: list[Slot] = []
    settled = True
    for slot in slots:
        runs = runs.after(slot, family, target_ms)
        history.append(slot)
        settled = settled and slot.ts < settled_before
        if settled:
            result.anchor = (slot.ts, runs)
        step = crossing(family, runs, result.incident, auto_resolve_slots)
        if step is None or (last_action_ts is not None and slot.ts <= last_action_ts):
            continue
        kind, cause = step
        length = (
            runs.severe
            if cause == CAUSE_SEVERE and kind in ("open", "escalate")
            else (runs.good if kind in ("recover", "resolve") else runs.bad)
        )
        result.actions.append(Action(kind, cause, slot, length, tuple(history[-length:])))
        result.incident = apply(result.incident, kind, cause)
    return result
