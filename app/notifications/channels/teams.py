"""Microsoft Teams (Workflows webhook): the summary as an Adaptive Card 1.4, user text shown literally."""

from __future__ import annotations

import re
from typing import Any

from app.notifications.channels.base import Delivery, HttpChannel
from app.notifications.messages import Message

TEAMS_COLORS = {"bad": "Attention", "warn": "Warning", "good": "Good", "info": "Accent"}
_TEAMS_MARKDOWN = re.compile(r"([\\`*_\[\]()~#<>!|{}])")
_TEAMS_LIST_MARK = re.compile(r"^(\s*)([-+=])", re.MULTILINE)
_TEAMS_NUMBERED = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)


def _teams_escape(text: str) -> str:
    """Adaptive Card TextBlocks and facts render Markdown: user text (titles, descriptions, names)
    must not turn into links, emphasis or lists, so every Markdown character is backslash-escaped."""
    escaped = _TEAMS_MARKDOWN.sub(r"\\\1", text)
    escaped = _TEAMS_LIST_MARK.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    return _TEAMS_NUMBERED.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def teams_body(message: Message) -> dict[str, Any]:
    body = [
        {
            "type": "TextBlock",
            "text": _teams_escape(message.title),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": TEAMS_COLORS[message.tone],
        }
    ]
    if message.text:
        body.append({"type": "TextBlock", "text": _teams_escape(message.text), "wrap": True})
    if message.facts:
        body.append({"type": "FactSet", "facts": [{"title": n, "value": _teams_escape(v)} for n, v in message.facts]})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


class Teams(HttpChannel):
    kind = "teams"
    label = "Microsoft Teams (Workflows webhook)"

    def body(self, delivery: Delivery) -> dict[str, Any]:
        return teams_body(delivery.message())


CHANNEL = Teams()
