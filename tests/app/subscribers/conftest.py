"""Public subscriptions: the real app (subscribers from loopback allowed, for the local receivers), the
notification worker, a real SMTP server and HTTP receivers on loopback (tests/app/notifications)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest

from app.subscribers import tokens
from tests.app.notifications.conftest import make_receiver, run_worker, smtp, wait_until  # noqa: F401 — fixtures

INCIDENT = {"title": "결제 API 장애", "severity": "critical", "affected_services": ["face-compare"], "note": "타임아웃"}
TOKEN = re.compile(r"token=([A-Za-z0-9._%-]+)")


class Public:
    """Clients of one app as the public (each from its own IP) and as an admin."""

    def __init__(self, staff, client):
        self.staff, self.client, self.conn = staff, client, staff.conn

    async def subscribe(self, ip: str = "198.51.100.7", **body):
        return await self.client(ip).post("/api/public/subscriptions", json=body)

    async def confirm_directly(self, **body) -> int:
        """Subscribe, then confirm with a link signed for the stored confirmation (as the message's link is)."""
        r = await self.subscribe(**body)
        assert r.status_code == 202, r.text
        row = await self.conn.fetchrow("SELECT id, confirm_nonce FROM subscriptions WHERE public ORDER BY id DESC")
        r = await self.client().post("/api/public/subscriptions/confirm", json={"token": self.token_for(row)})
        assert r.status_code == 200, r.text
        return row["id"]

    @staticmethod
    def token_for(row, purpose="confirm") -> str:
        from datetime import datetime, timedelta, timezone

        expires = datetime.now(timezone.utc) + timedelta(hours=1)
        return tokens.issue("test-secret", purpose, row["id"], row["confirm_nonce"], expires)

    async def incident(self, **changes) -> dict:
        r = await self.staff.client.post(
            "/api/incidents", json={**INCIDENT, **changes}, headers=await self.staff.headers("reporter")
        )
        assert r.status_code == 201, r.text
        return r.json()["incident"]

    async def dispatched(self) -> None:
        """Until every outbox event has been fanned out by the worker."""

        async def done():
            return await self.conn.fetchval("SELECT count(*) = 0 FROM notification_events WHERE dispatched_at IS NULL")

        await wait_until(done)


@pytest.fixture
async def public(staff, make_app):
    _, client = make_app(subscribe_allow_private=True)
    return Public(staff, client)


def link_token(text: str, path: str) -> str:
    """The token of the first link to `path` in a message's text."""
    for url in re.findall(r"https?://\S+", text):
        if urlsplit(url).path == path:
            return unquote(TOKEN.search(url).group(1))
    raise AssertionError(f"no link to {path} in {text!r}")
