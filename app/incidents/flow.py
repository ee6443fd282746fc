"""The status flow and the priority suggestion (docs/sla-math.md ## Incidents).

Allowed transitions: any forward step (investigating → identified → monitoring → resolved, skipping
allowed: a quick fix may go straight to resolved) and a reopen from resolved back to investigating.
Going backwards otherwise (e.g. monitoring → identified) is refused: post a note instead, or resolve
and reopen. Staying in the same status is a progress note, not a transition."""

from __future__ import annotations

ORDER = ("investigating", "identified", "monitoring", "resolved")
SUGGESTED_PRIORITY = {"critical": "P1", "high": "P2", "medium": "P3", "low": "P3"}


def suggest_priority(severity: str) -> str:
    return SUGGESTED_PRIORITY[severity]


def transition_allowed(current: str, target: str) -> bool:
    if current == target:
        return True
    if current == "resolved":
        return target == "investigating"
    return ORDER.index(target) > ORDER.index(current)
