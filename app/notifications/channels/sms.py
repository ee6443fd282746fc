"""A generic SMS / voice gateway webhook: the recipients' numbers and one short text, as signed JSON,
for a gateway of the operator's (or a small adapter in front of Twilio, Vonage, a modem…) to text or
call. docs/api.md, Notifications, gives the body."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.notifications.channels.base import Delivery, HttpChannel
from app.notifications.messages import cut

PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]  # E.164


class SmsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipients: list[PhoneNumber] = Field(min_length=1, max_length=20, description="E.164 numbers")
    voice: bool = Field(False, description="ask the gateway to call instead of texting")
    max_length: int = Field(160, ge=70, le=1600, description="the text is cut to this many characters")


class Sms(HttpChannel):
    kind = "sms"
    label = "SMS / voice gateway (signed JSON)"
    Options = SmsOptions

    def body(self, delivery: Delivery) -> dict[str, Any]:
        message = delivery.message()
        text = f"SLA Monitor: {message.title}"
        limit = delivery.options.get("max_length", 160)
        incident = delivery.payload.get("incident", {})
        return {
            "to": delivery.options["recipients"],
            "mode": "voice" if delivery.options.get("voice") else "sms",
            "text": cut(text, limit),
            "event": delivery.event_kind,
            "incidentId": incident.get("id"),
            "deliveryId": delivery.id,
        }


CHANNEL = Sms()
