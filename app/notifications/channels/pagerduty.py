"""PagerDuty Events API v2: an incident is one PagerDuty alert, its dedup key the incident's, so a
page triggers it, an acknowledgement acknowledges it and the resolution resolves it (app/escalation).

The subscription's URL is the Events API endpoint (https://events.pagerduty.com/v2/enqueue), its
secret the integration's routing key (sent in the body, as the API wants, never as a signature).
Request format: PagerDuty's Events API v2 "Send an Alert Event" (docs/api.md, Notifications)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.notifications import messages
from app.notifications.channels.base import Delivery, HttpChannel, HttpRequest
from app.notifications.senders import Outcome

if TYPE_CHECKING:
    from app.notifications.senders import Senders

SUMMARY_MAX = 1024  # PagerDuty: payload.summary
DEDUP_MAX = 255  # PagerDuty: dedup_key
SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning"}
Action = Literal["trigger", "acknowledge", "resolve"]


class PagerDutyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field("sla-monitor", min_length=1, max_length=255, description="payload.source")


def dedup_key(delivery: Delivery) -> str:
    """One alert per incident (or SLO violation, forecast alert, maintenance window); a test is its own alert."""
    payload = delivery.payload
    if "incident" in payload:
        key = f"slamon-incident-{payload['incident']['id']}"
    elif "violation" in payload and "definition" in payload["violation"]:  # slo_definition_violations
        key = f"slamon-slodef-{payload['violation']['id']}"
    elif "violation" in payload:
        key = f"slamon-slo-{payload['violation']['id']}"
    elif "forecast" in payload and "definition" in payload["forecast"]:  # sql/312: ids of their own
        key = f"slamon-defforecast-{payload['forecast']['id']}"
    elif "forecast" in payload:
        key = f"slamon-forecast-{payload['forecast']['id']}"
    elif "maintenance" in payload:
        key = f"slamon-maintenance-{payload['maintenance']['id']}"
    else:
        key = f"slamon-test-{delivery.id}"
    return key[:DEDUP_MAX]


def action(kind: str) -> Action:
    if kind == "escalation.acknowledged":
        return "acknowledge"
    if kind in (
        "escalation.resolved",
        "incident.resolved",
        "slo_violation.closed",
        "slo_forecast.closed",
        "maintenance.ended",
    ):
        return "resolve"
    return "trigger"


def severity(delivery: Delivery) -> str:
    payload = delivery.payload
    if "incident" in payload:
        return SEVERITY[payload["incident"]["priority"]]
    if "violation" in payload:
        return "critical" if payload["violation"]["severity"] == "CRITICAL" else "warning"
    if "forecast" in payload:
        return "warning"
    return "info"


class PagerDuty(HttpChannel):
    kind = "pagerduty"
    label = "PagerDuty (Events API v2)"
    signs = False  # the secret is the routing key

    Options = PagerDutyOptions
    secret_required = "a pagerduty subscription needs the integration's routing key as secret"

    def body(self, delivery: Delivery) -> dict[str, Any]:
        event: dict[str, Any] = {
            "routing_key": delivery.secret,
            "event_action": action(delivery.event_kind),
            "dedup_key": dedup_key(delivery),
        }
        if event["event_action"] != "trigger":
            return event
        message = delivery.message()
        event["payload"] = {
            "summary": messages.cut(message.title, SUMMARY_MAX),
            "source": delivery.options.get("source", "sla-monitor"),
            "severity": severity(delivery),
            "timestamp": messages.iso(delivery.occurred_at.isoformat()),
            "class": delivery.event_kind,
            "custom_details": {name: value for name, value in message.facts} | {"text": message.text},
        }
        if delivery.services:
            event["payload"]["component"] = ", ".join(delivery.services)
        event["client"] = "SLA Monitor"
        return event

    async def send(self, rendered: HttpRequest, delivery: Delivery, senders: Senders) -> Outcome:
        outcome = await super().send(rendered, delivery, senders)
        if outcome.status_code == 400:  # PagerDuty: an invalid event; sending it again cannot help
            outcome.permanent = True
        return outcome


CHANNEL = PagerDuty()
