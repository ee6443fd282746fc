"""What a notification says, and its body for each kind of receiver: generic JSON (the event as it
was recorded), a Slack incoming-webhook message, a Teams (Workflows) Adaptive Card message, an email."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from app.formatting import format_duration

SLACK_HEADER_MAX = 150  # Slack: header block plain_text
SLACK_SECTION_MAX = 3000  # Slack: section block text
COLORS = {"bad": "#d93f0b", "warn": "#fbca04", "good": "#2da44e", "info": "#0969da"}
TEAMS_COLORS = {"bad": "Attention", "warn": "Warning", "good": "Good", "info": "Accent"}


@dataclass
class Message:
    title: str
    text: str
    tone: str  # bad | warn | good | info
    facts: list[tuple[str, str]] = field(default_factory=list)


def _iso(value) -> str:
    return str(value).replace("+00:00", "Z") if value else "-"


def _incident(kind: str, payload: dict) -> Message:
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
    if kind == "incident.resolved":
        facts.append(("Resolution time", incident.get("resolutionTime") or "-"))
        return Message(f"[{incident['priority']}] Incident resolved: {incident['title']}", latest, "good", facts)
    return Message(
        f"[{incident['priority']}] Incident {payload['previousStatus']} → {incident['status']}: {incident['title']}",
        latest,
        "warn",
        facts,
    )


def _violation(kind: str, payload: dict) -> Message:
    v = payload["violation"]
    facts = [
        ("Service", v["serviceName"]),
        ("SLO", v["slo"]),
        ("Severity", v["severity"]),
        ("Threshold", str(v["threshold"])),
        ("Worst value", str(v["worstValue"])),
        ("Started", _iso(v["startedAt"])),
    ]
    if kind == "slo_violation.opened":
        return Message(
            f"SLO violation ({v['severity']}): {v['serviceName']} {v['slo']}",
            f"{v['slo']} of {v['serviceName']} is past its threshold {v['threshold']}.",
            "bad" if v["severity"] == "CRITICAL" else "warn",
            facts,
        )
    facts += [("Ended", _iso(v["endedAt"])), ("Duration", format_duration(v["durationSeconds"] or 0))]
    return Message(
        f"SLO violation over: {v['serviceName']} {v['slo']}",
        f"{v['slo']} of {v['serviceName']} is back within its threshold.",
        "good",
        facts,
    )


def _maintenance(kind: str, payload: dict) -> Message:
    m = payload["maintenance"]
    facts = [
        ("Services", ", ".join(m["affectedServices"])),
        ("Starts", _iso(m["startsAt"])),
        ("Ends", _iso(m["endsAt"])),
    ]
    if kind == "maintenance.started":
        return Message(f"Maintenance started: {m['title']}", m["description"], "info", facts)
    return Message(f"Maintenance ended: {m['title']}", m["description"], "good", facts)


def describe(kind: str, payload: dict) -> Message:
    """The human summary of an event, shared by Slack, Teams and email."""
    if kind.startswith("incident."):
        return _incident(kind, payload)
    if kind.startswith("slo_violation."):
        return _violation(kind, payload)
    if kind.startswith("maintenance."):
        return _maintenance(kind, payload)
    return Message("Test notification from SLA Monitor", payload.get("message", ""), "info")


def webhook_body(
    delivery_id: str, kind: str, event_key: str, occurred_at: datetime, services: list[str], payload: dict
) -> dict:
    return {
        "deliveryId": delivery_id,
        "event": kind,
        "eventKey": event_key,
        "occurredAt": _iso(occurred_at.isoformat()),
        "services": services,
        "data": payload,
    }


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(message: Message) -> dict:
    facts = "\n".join(f"*{name}:* {_slack_escape(value)}" for name, value in message.facts)
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": _cut(message.title, SLACK_HEADER_MAX)}}]
    if message.text:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(_slack_escape(message.text), SLACK_SECTION_MAX)},
            }
        )
    if facts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(facts, SLACK_SECTION_MAX)}})
    # `text` is the notification and fallback; the attachment draws the colour bar beside the blocks.
    return {"text": _slack_escape(message.title), "attachments": [{"color": COLORS[message.tone], "blocks": blocks}]}


def teams_body(message: Message) -> dict:
    body = [
        {
            "type": "TextBlock",
            "text": message.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": TEAMS_COLORS[message.tone],
        }
    ]
    if message.text:
        body.append({"type": "TextBlock", "text": message.text, "wrap": True})
    if message.facts:
        body.append({"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in message.facts]})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def email_message(
    message: Message, *, sender: str, recipient: str, delivery_id: str, kind: str, occurred_at: datetime
) -> EmailMessage:
    """Plain-text email; Message-ID is derived from the delivery id, so a resent copy is the same message."""
    email = EmailMessage()
    email["Subject"] = " ".join(f"[SLA Monitor] {message.title}".split())  # one line, whatever the title held
    email["From"] = sender
    email["To"] = recipient
    email["Date"] = format_datetime(occurred_at)
    email["Message-ID"] = f"<{delivery_id}@slamon>"
    email["X-SLAMon-Delivery"] = delivery_id
    email["X-SLAMon-Event"] = kind
    lines = [message.title, ""]
    if message.text:
        lines += [message.text, ""]
    lines += [f"{name}: {value}" for name, value in message.facts]
    email.set_content("\n".join(lines) + "\n")
    return email


def encode(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()
