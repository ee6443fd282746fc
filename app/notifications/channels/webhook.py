"""Generic webhook: the event as it was recorded, as JSON, signed (docs/api.md, Notifications)."""

from __future__ import annotations

from typing import Any

from app.notifications import messages
from app.notifications.channels.base import Delivery, HttpChannel


class Webhook(HttpChannel):
    kind = "webhook"
    label = "webhook (signed JSON)"

    def body(self, delivery: Delivery) -> dict[str, Any]:
        return {
            "deliveryId": delivery.id,
            "event": delivery.event_kind,
            "eventKey": delivery.event_key,
            "occurredAt": messages.iso(delivery.occurred_at.isoformat()),
            "services": delivery.services,
            "data": delivery.payload,
        }


CHANNEL = Webhook()
