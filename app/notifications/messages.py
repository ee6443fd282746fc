"""What a notification says, whatever the channel: the human summary of an event (Message), shared by
the chat and email channels (app/notifications/channels/), and the JSON encoding of a body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.formatting import format_duration


@dataclass
class Message:
    title: str
    text: str
    tone: str  # bad | warn | good | info
    facts: list[tuple[str, str]] = field(default_factory=list)


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iso(value: object) -> str:
    return str(value).replace("+00:00", "Z") if value else "-"


def _incident(kind: str, payload: dict[str, Any]) -> Message:
    incident = payload["incident"]
    latest = incident["updates"][0]["description"] if incident.get("updates") else ""
    services = ", ".join(incident["affectedServices"]) or "-"
    facts = [
        ("Priority", incident["priority"]),
        ("Severity", incident["severity"]),
        ("Status", incident["status"]),
        ("Services", services),
    ]
    if kind == "incident.created":
        return Message(
            f"[{incident['priority']}] Incident opened: {incident['title']}",
            latest or incident["description"],
            "bad",
            facts,
        )
    if kind == "incident.updated":
        return Message(f"[{incident['priority']}] Incident update: {incident['title']}", latest, "warn", facts)
    if kind == "incident.resolved":
        facts.append(("Resolution time", incident.get("resolutionTime") or "-"))
        return Message(f"[{incident['priority']}] Incident resolved: {incident['title']}", latest, "good", facts)
    return Message(
        f"[{incident['priority']}] Incident {payload['previousStatus']} → {incident['status']}: {incident['title']}",
        latest,
        "warn",
        facts,
    )


def _violation(kind: str, payload: dict[str, Any]) -> Message:
    v = payload["violation"]
    facts = [
        ("Service", v["serviceName"]),
        ("SLO", v["slo"]),
        ("Severity", v["severity"]),
        ("Threshold", str(v["threshold"])),
        ("Worst value", str(v["worstValue"])),
        ("Started", iso(v["startedAt"])),
    ]
    if kind == "slo_violation.opened":
        return Message(
            f"SLO violation ({v['severity']}): {v['serviceName']} {v['slo']}",
            f"{v['slo']} of {v['serviceName']} is past its threshold {v['threshold']}.",
            "bad" if v["severity"] == "CRITICAL" else "warn",
            facts,
        )
    facts += [("Ended", iso(v["endedAt"])), ("Duration", format_duration(v["durationSeconds"] or 0))]
    return Message(
        f"SLO violation over: {v['serviceName']} {v['slo']}",
        f"{v['slo']} of {v['serviceName']} is back within its threshold.",
        "good",
        facts,
    )


REASONS = {
    "exhaustion_current_burn": "the error budget runs out within the horizon at this month's burn",
    "exhaustion_recent_burn": "the error budget runs out within the horizon at the last 7 days' burn",
    "miss_probability": "the month is likely to miss its target",
}


def _forecast(kind: str, payload: dict[str, Any]) -> Message:
    """A forecast alert (app/slo/forecast_service.py): the budget is forecast to run out, or the month to miss."""
    f = payload["forecast"]
    probability = f.get("missProbability")
    facts = [
        ("Service", f["serviceName"]),
        ("SLO", f["slo"]),
        ("Window" if "definition" in f else "Month", f["period"]),  # a definition's: its window
        ("Budget runs out", iso(f.get("exhaustsAt"))),
        ("Miss probability", "-" if probability is None else f"{float(probability) * 100:.0f} %"),
        ("Opened", iso(f["openedAt"])),
    ]
    if kind == "slo_forecast.opened":
        why = "; ".join(REASONS.get(r, r) for r in f["reasons"])
        return Message(
            f"SLO forecast: {f['serviceName']} {f['slo']} at risk",
            f"{f['slo']} of {f['serviceName']}: {why}.",
            "warn",
            facts,
        )
    facts.append(("Closed", iso(f["closedAt"])))
    return Message(
        f"SLO forecast clear: {f['serviceName']} {f['slo']}",
        f"{f['slo']} of {f['serviceName']} is no longer forecast to run out of its budget or miss its target.",
        "good",
        facts,
    )


def _maintenance(kind: str, payload: dict[str, Any]) -> Message:
    m = payload["maintenance"]
    facts = [
        ("Services", ", ".join(m["affectedServices"])),
        ("Starts", iso(m["startsAt"])),
        ("Ends", iso(m["endsAt"])),
    ]
    if kind == "maintenance.scheduled":
        return Message(f"Maintenance scheduled: {m['title']}", m["description"], "info", facts)
    if kind == "maintenance.started":
        return Message(f"Maintenance started: {m['title']}", m["description"], "info", facts)
    return Message(f"Maintenance ended: {m['title']}", m["description"], "good", facts)


def _escalation(kind: str, payload: dict[str, Any]) -> Message:
    """A page of an escalation level, its acknowledgement, the incident's resolution (app/escalation)."""
    incident, escalation = payload["incident"], payload["escalation"]
    head = f"[{incident['priority']}] {incident['title']}"
    facts = [("Incident", incident["id"]), ("Status", incident["status"])]
    if kind == "escalation.paged":
        facts.append(("Level", f"{escalation['level']} of {escalation['levels']} ({escalation['policyId']})"))
        latest = incident["updates"][0]["description"] if incident.get("updates") else incident["description"]
        return Message(f"Escalation level {escalation['level']}: {head}", latest, "bad", facts)
    if kind == "escalation.acknowledged":
        facts.append(("Acknowledged by", escalation["acknowledgedBy"]))
        return Message(f"Acknowledged: {head}", f"Acknowledged by {escalation['acknowledgedBy']}.", "warn", facts)
    if kind == "escalation.reminder":
        return Message(
            f"Reminder, no update since {iso(escalation['quietSince'])}: {head}",
            "The incident is acknowledged but has had no update since; post one on its timeline.",
            "warn",
            facts,
        )
    return Message(f"Resolved: {head}", "", "good", facts)


def _subscription(kind: str, payload: dict[str, Any]) -> Message:
    """What the owner of a receiver subscribed on the status page is told about the subscription itself."""
    services = ", ".join(payload.get("services") or []) or "all services"
    if kind == "subscription.confirm":
        text = (
            "Someone asked to send status updates of SLA Monitor here. To confirm, open this link (or, for a "
            f"webhook, answer this request with the challenge in the response body): {payload['confirmUrl']}\n"
            "If you did not ask for this, ignore this message: nothing more will be sent."
        )
        facts = [("Confirm", payload["confirmUrl"]), ("Challenge", payload["challenge"])]
        facts += [("Link expires", iso(payload["expiresAt"])), ("Services", services)]
        return Message("Confirm your subscription to status updates", text, "info", facts)
    text = "This receiver is already subscribed to status updates; the links below change or end it."
    return Message("You are already subscribed to status updates", text, "info", [("Services", services)])


def _statement(payload: dict[str, Any]) -> Message:
    """A customer's monthly statement (app/customers/delivery.py): the PDF is attached to the email."""
    s = payload["statement"]
    credit = f"{s['creditAmount']} {s['currency']}" if s["creditPercent"] else "none"
    text = (
        f"The SLA statement of {s['customerName']} for {s['month']} is attached (PDF). "
        f"It can also be read at {s['url']}"
    )
    facts = [
        ("Period", s["month"]),
        ("Availability", "-" if s["availabilityPercent"] is None else f"{s['availabilityPercent']:.2f} %"),
        ("Target", f"{s['targetPercent']} %"),
        ("Service credit", credit),
        ("Revision", str(s["revision"])),
        ("Statement", s["url"]),
    ]
    return Message(f"SLA statement {s['month']}: {s['customerName']}", text, "info", facts)


def describe(kind: str, payload: dict[str, Any]) -> Message:
    """The human summary of an event, shared by the chat and email channels."""
    if kind.startswith("subscription."):
        return _subscription(kind, payload)
    if kind.startswith("incident."):
        return _incident(kind, payload)
    if kind.startswith("slo_violation."):
        return _violation(kind, payload)
    if kind.startswith("slo_forecast."):
        return _forecast(kind, payload)
    if kind.startswith("maintenance."):
        return _maintenance(kind, payload)
    if kind.startswith("escalation."):
        return _escalation(kind, payload)
    if kind.startswith("statement."):
        return _statement(payload)
    return Message("Test notification from SLA Monitor", payload.get("message", ""), "info")


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()
