"""Opsgenie Alert API: an incident is one Opsgenie alert under an alias of the incident's, created by
a page, acknowledged and closed through the alias (app/escalation).

The subscription's URL is the API's base (https://api.opsgenie.com, or https://api.eu.opsgenie.com),
its secret the API integration's key (header `Authorization: GenieKey …`). Requests: Create Alert
(POST /v2/alerts), Acknowledge Alert and Close Alert (POST /v2/alerts/{alias}/acknowledge|close
?identifierType=alias); docs/api.md, Notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from app.notifications.channels.base import Delivery, HttpChannel, HttpRequest
from app.notifications.channels.pagerduty import action, dedup_key
from app.notifications.messages import cut
from app.notifications.senders import Outcome

if TYPE_CHECKING:
    from app.notifications.senders import Senders

MESSAGE_MAX = 130  # Opsgenie: message
DESCRIPTION_MAX = 15000  # Opsgenie: description
ALIAS_MAX = 512  # Opsgenie: alias


class OpsgenieOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field("sla-monitor", min_length=1, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=20)


def alert_path(delivery: Delivery) -> str:
    """The API path of this delivery's request: create, or acknowledge/close the alert by alias."""
    verb = action(delivery.event_kind)
    if verb == "trigger":
        return "/v2/alerts"
    alias = quote(dedup_key(delivery)[:ALIAS_MAX], safe="")
    return f"/v2/alerts/{alias}/{'acknowledge' if verb == 'acknowledge' else 'close'}?identifierType=alias"


class Opsgenie(HttpChannel):
    kind = "opsgenie"
    label = "Opsgenie (Alert API)"
    signs = False  # the secret is the API key
    Options = OpsgenieOptions
    secret_required = "an opsgenie subscription needs the API integration's key as secret"

    def body(self, delivery: Delivery) -> dict[str, Any]:
        source = delivery.options.get("source", "sla-monitor")
        verb = action(delivery.event_kind)
        message = delivery.message()
        if verb != "trigger":
            return {"source": source, "user": "SLA Monitor", "note": cut(message.title, 25000)}
        priority = delivery.payload.get("incident", {}).get("priority", "P3")
        return {
            "message": cut(message.title, MESSAGE_MAX),
            "alias": dedup_key(delivery)[:ALIAS_MAX],
            "description": cut(message.text, DESCRIPTION_MAX),
            "priority": priority,
            "source": source,
            "tags": [*delivery.options.get("tags", []), *delivery.services][:20],
            "entity": ", ".join(delivery.services)[:512],
            "details": {name: value for name, value in message.facts},
        }

    def headers(self, delivery: Delivery) -> dict[str, str]:
        return {"Authorization": f"GenieKey {delivery.secret}"}

    async def send(self, rendered: HttpRequest, delivery: Delivery, senders: Senders) -> Outcome:
        assert delivery.url is not None
        url = delivery.url.rstrip("/") + alert_path(delivery)
        return await senders.post(url, rendered.body, rendered.headers, delivery.allow_private)


CHANNEL = Opsgenie()
