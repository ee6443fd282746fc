"""Mattermost (incoming webhook): a Slack-compatible attachment with the summary and its facts."""

from __future__ import annotations

from typing import Any

from app.notifications.channels.base import Delivery, HttpChannel
from app.notifications.channels.slack import COLORS
from app.notifications.messages import cut


class Mattermost(HttpChannel):
    kind = "mattermost"
    label = "Mattermost (incoming webhook)"
    signs = False  # Mattermost checks no signature; the webhook URL is the credential

    def body(self, delivery: Delivery) -> dict[str, Any]:
        message = delivery.message()
        attachment: dict[str, Any] = {
            "fallback": cut(message.title, 500),
            "color": COLORS[message.tone],
            "title": cut(message.title, 500),
            "fields": [{"title": name, "value": value, "short": True} for name, value in message.facts],
        }
        if message.text:
            attachment["text"] = cut(message.text, 7000)
        return {"username": "SLA Monitor", "attachments": [attachment]}


CHANNEL = Mattermost()
