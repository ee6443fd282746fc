"""Google Chat (space webhook): the summary as one plain text message."""

from __future__ import annotations

from typing import Any

from app.notifications.channels.base import Delivery, HttpChannel
from app.notifications.messages import Message, cut

TEXT_MAX = 4096


def plain_text(message: Message) -> str:
    """Title, text and facts as lines of plain text (the form of the text-only channels)."""
    lines = [message.title]
    if message.text:
        lines += ["", message.text]
    if message.facts:
        lines += ["", *(f"{name}: {value}" for name, value in message.facts)]
    return "\n".join(lines)


class GoogleChat(HttpChannel):
    kind = "googlechat"
    label = "Google Chat (space webhook)"
    signs = False  # the webhook URL carries its key and token

    def body(self, delivery: Delivery) -> dict[str, Any]:
        return {"text": cut(plain_text(delivery.message()), TEXT_MAX)}


CHANNEL = GoogleChat()
