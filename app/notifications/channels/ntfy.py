"""ntfy (JSON publishing): the summary to one topic of an ntfy server. The subscription's URL is the
server's root (https://ntfy.sh), `options.topic` the topic; a secret, when given, is the access
token (sent as a bearer token)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.notifications.channels.base import Delivery, HttpChannel
from app.notifications.messages import cut

PRIORITY = {"bad": 5, "warn": 4, "good": 3, "info": 3}
TAGS = {"bad": "rotating_light", "warn": "warning", "good": "white_check_mark", "info": "information_source"}


class NtfyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    priority: int | None = Field(None, ge=1, le=5, description="fixed priority; default: from the event")


class Ntfy(HttpChannel):
    kind = "ntfy"
    label = "ntfy"
    signs = False  # the secret is the access token, not a signing key
    Options = NtfyOptions

    def body(self, delivery: Delivery) -> dict[str, Any]:
        message = delivery.message()
        facts = "\n".join(f"{name}: {value}" for name, value in message.facts)
        return {
            "topic": delivery.options["topic"],
            "title": cut(message.title, 250),
            "message": cut("\n\n".join(part for part in (message.text, facts) if part) or message.title, 4000),
            "priority": delivery.options.get("priority") or PRIORITY[message.tone],
            "tags": [TAGS[message.tone]],
        }

    def headers(self, delivery: Delivery) -> dict[str, str]:
        return {"Authorization": f"Bearer {delivery.secret}"} if delivery.secret else {}


CHANNEL = Ntfy()
