"""Slack incoming webhook: the summary as blocks in a coloured attachment, user text escaped for
mrkdwn and cut to Slack's limits."""

from __future__ import annotations

from typing import Any

from app.notifications.channels.base import Delivery, HttpChannel
from app.notifications.messages import Message, cut

SLACK_HEADER_MAX = 150  # Slack: header block plain_text
SLACK_SECTION_MAX = 3000  # Slack: section block text
COLORS = {"bad": "#d93f0b", "warn": "#fbca04", "good": "#2da44e", "info": "#0969da"}


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: Message) -> dict[str, Any]:
    facts = "\n".join(f"*{name}:* {_slack_escape(value)}" for name, value in message.facts)
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": cut(message.title, SLACK_HEADER_MAX)}}]
    if message.text:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": cut(_slack_escape(message.text), SLACK_SECTION_MAX)},
            }
        )
    if facts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(facts, SLACK_SECTION_MAX)}})
    # `text` is the notification and fallback; the attachment draws the colour bar beside the blocks.
    return {"text": _slack_escape(message.title), "attachments": [{"color": COLORS[message.tone], "blocks": blocks}]}


class Slack(HttpChannel):
    kind = "slack"
    label = "Slack (incoming webhook)"

    def body(self, delivery: Delivery) -> dict[str, Any]:
        return slack_body(delivery.message())


CHANNEL = Slack()
