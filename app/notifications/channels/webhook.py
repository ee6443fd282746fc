"""Generic webhook: the event as it was recorded, as JSON, signed (docs/api.md, Notifications)."""

from __future__ import annotations

from typing import Any

from app.notifications import messages
from app.notifications.channels.base import Delivery, HttpChannel


class Webhook(HttpChannel):
    kind = "webhook"
    label = "webhook (signed JSON)"

    def body(self, delivery: Delivery) -> dict[str, Any]:
        body = {
            "deliveryId": delivery.id,
            "event": delivery.event_kind,
            "eventKey": delivery.event_key,
            "occurredAt": messages.iso(delivery.occurred_at.isoformat()),
            "services": delivery.services,
            "data": delivery.payload,
        }
        if delivery.links is not None:  # a public subscriber's own links (docs/api.md, Public subscriptions)
            body["links"] = {"manage": delivery.links.manage, "unsubscribe": delivery.links.unsubscribe}
        return body


CHANNEL = Webhook()
