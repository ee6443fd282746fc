"""Discord (channel webhook): the summary as one embed; mentions in user text are never pinged."""

from __future__ import annotations

from typing import Any

from app.notifications.channels.base import Delivery, HttpChannel
from app.notifications.messages import Message, cut

COLORS = {"bad": 0xD93F0B, "warn": 0xFBCA04, "good": 0x2DA44E, "info": 0x0969DA}
# Discord's limits: embed title 256, description 4096, 25 fields of name 256 / value 1024.


def discord_body(message: Message) -> dict[str, Any]:
    embed: dict[str, Any] = {"title": cut(message.title, 256), "color": COLORS[message.tone]}
    if message.text:
        embed["description"] = cut(message.text, 4096)
    if message.facts:
        embed["fields"] = [
            {"name": cut(name, 256), "value": cut(value or "-", 1024), "inline": True}
            for name, value in message.facts[:25]
        ]
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


class Discord(HttpChannel):
    kind = "discord"
    label = "Discord (channel webhook)"
    signs = False  # Discord checks no signature; the webhook URL is the credential

    def body(self, delivery: Delivery) -> dict[str, Any]:
        return discord_body(delivery.message())


CHANNEL = Discord()
