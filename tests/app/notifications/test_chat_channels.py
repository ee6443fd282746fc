"""The chat channels (Discord, Mattermost, Google Chat, Telegram, ntfy): each renders the event summary
in its service's documented request format, with its limits, and a test notification reaches a
loopback receiver through the worker's real jobs, at the path the service wants."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.notifications.channels import CHANNELS
from app.notifications.channels.base import Delivery
from tests.app.notifications.conftest import subscribe

INCIDENT = {
    "id": "inc-2026-001",
    "title": "@everyone Face compare down " + "x" * 300,
    "description": "all calls fail",
    "status": "investigating",
    "severity": "critical",
    "priority": "P1",
    "affectedServices": ["face-compare"],
    "updates": [{"description": "looking into it"}],
}


def delivery(kind: str, options: dict | None = None, secret: str | None = None) -> Delivery:
    return Delivery(
        id="d-1",
        event_kind="incident.created",
        event_key="incident:inc-2026-001:created",
        occurred_at=datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc),
        services=["face-compare"],
        payload={"incident": INCIDENT, "previousStatus": None},
        url="https://example.com/hook",
        email=None,
        secret=secret,
        options=options or {},
        allow_private=False,
    )


def test_discord_embed_within_limits_and_no_pings():
    body = CHANNELS["discord"].body(delivery("discord"))
    [embed] = body["embeds"]
    assert body["allowed_mentions"] == {"parse": []}  # "@everyone" in a title pings nobody
    assert len(embed["title"]) == 256 and embed["title"].endswith("…") and embed["color"] == 0xD93F0B
    assert embed["description"] == "looking into it"
    assert {"name": "Priority", "value": "P1", "inline": True} in embed["fields"]


def test_mattermost_googlechat_telegram_ntfy_bodies():
    mattermost = CHANNELS["mattermost"].body(delivery("mattermost"))["attachments"][0]
    assert (
        mattermost["color"] == "#d93f0b"
        and {"title": "Status", "value": "investigating", "short": True} in (mattermost["fields"])
    )
    text = CHANNELS["googlechat"].body(delivery("googlechat"))["text"]
    assert text.startswith("[P1] Incident opened: @everyone") and "\nPriority: P1\n" in text
    telegram = CHANNELS["telegram"].body(delivery("telegram", {"chat_id": "-100123"}, "123:token"))
    assert telegram["chat_id"] == "-100123" and telegram["disable_web_page_preview"] is True
    assert telegram["text"] == text
    ntfy = CHANNELS["ntfy"].body(delivery("ntfy", {"topic": "sla"}))
    assert ntfy["topic"] == "sla" and ntfy["priority"] == 5 and ntfy["tags"] == ["rotating_light"]
    assert len(ntfy["title"]) == 250 and ntfy["message"].startswith("looking into it\n\nPriority: P1")
    assert CHANNELS["ntfy"].body(delivery("ntfy", {"topic": "sla", "priority": 2}))["priority"] == 2
    assert CHANNELS["ntfy"].headers(delivery("ntfy", {"topic": "sla"})) == {}
    assert CHANNELS["ntfy"].headers(delivery("ntfy", {"topic": "sla"}, "tk_0123456789abcdef")) == {
        "Authorization": "Bearer tk_0123456789abcdef"
    }


@pytest.mark.parametrize(
    ("kind", "extra", "path", "key"),
    [
        ("discord", {}, "/hook", "embeds"),
        ("mattermost", {}, "/hook", "attachments"),
        ("googlechat", {}, "/hook", "text"),
        ("telegram", {"secret": "123456:bot-token-abcdef", "options": {"chat_id": "@slamon_ops"}}, None, "chat_id"),
        ("ntfy", {"options": {"topic": "sla-alerts"}}, "/hook", "topic"),
    ],
)
async def test_a_test_notification_reaches_each_chat_channel(staff, make_receiver, run_worker, kind, extra, path, key):
    receiver = await make_receiver()
    subscription = await subscribe(staff, name=kind, kind=kind, url=receiver.url, **extra)
    await run_worker()
    r = await staff.client.post(f"/api/subscriptions/{subscription['id']}/test", headers=await staff.headers("admin"))
    assert r.status_code == 202, r.text
    [received] = await receiver.wait_for(1)
    assert received.path == (path or "/hook/bot123456:bot-token-abcdef/sendMessage")
    assert key in received.json and "X-SLAMon-Signature" not in received.headers


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "telegram", "url": "https://api.telegram.org", "options": {"chat_id": "1"}}, "secret"),
        (
            {"kind": "telegram", "url": "https://api.telegram.org", "secret": "1234567890abcdefgh", "options": {}},
            "options.chat_id",
        ),
        ({"kind": "ntfy", "url": "https://ntfy.sh"}, "options.topic"),
        ({"kind": "ntfy", "url": "https://ntfy.sh", "options": {"topic": "a/b"}}, "options.topic"),
        ({"kind": "ntfy", "url": "https://ntfy.sh", "options": {"topic": "a", "priority": 9}}, "options.priority"),
        ({"kind": "discord", "url": "https://discord.com/api/webhooks/1/x", "options": {"x": 1}}, "options.x"),
    ],
)
async def test_chat_subscriptions_are_checked_naming_the_field(staff, body, field):
    r = await staff.client.post("/api/subscriptions", json={"name": "x", **body}, headers=await staff.headers("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["field"] == field, r.json()
