"""The demo's paging: the subscriptions the default escalation policy names (escalation.toml:
automation, on-call, engineering-manager, executives), pointed at the local receivers beside the demo
targets (app/demo/receivers.py), so that `slamon up` pages end to end without leaving the machine.
`on-call` is a PagerDuty (Events API v2) subscription; the others are webhooks. Existing
subscriptions of those names are left as they are (an operator's own receivers win)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from app.demo import queries
from app.demo.receivers import PAGERDUTY_PATH, PREFIX
from app.notifications import service as notifications
from app.notifications.models import ESCALATION_EVENT_KINDS, SubscriptionCreate

DEMO_ROUTING_KEY = "DEM0R0UT1NGKEY00000000000000000a"  # 32 characters, as PagerDuty's integration keys
HOOKS = ("automation", "engineering-manager", "executives")


@dataclass(frozen=True)
class DemoActor:
    """The audit log's actor of the demo's set-up."""

    username: str = "slamon-up"
    user_id: str | None = None
    ip: str = ""


def subscriptions(receivers_url: str) -> list[SubscriptionCreate]:
    base = receivers_url.rstrip("/")
    common = {"events": list(ESCALATION_EVENT_KINDS), "allow_private": True}
    pages = [
        SubscriptionCreate(
            name="on-call", kind="pagerduty", url=base + PAGERDUTY_PATH, secret=DEMO_ROUTING_KEY, **common
        )
    ]
    pages += [
        SubscriptionCreate(name=name, kind="webhook", url=f"{base}{PREFIX}/hooks/{name}", **common) for name in HOOKS
    ]
    return pages


async def install(conn: asyncpg.Connection, receivers_url: str) -> list[str]:
    """Create the demo's paging subscriptions that do not exist yet; returns the names created."""
    existing = {r["name"] for r in await conn.fetch(queries.ADMIN_SUBSCRIPTION_NAMES)}
    created = []
    for subscription in subscriptions(receivers_url):
        if subscription.name not in existing:
            await notifications.create(conn, subscription, DemoActor())
            created.append(subscription.name)
    return created
