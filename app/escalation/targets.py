"""Who a level pages, resolved when it fires: the subscriptions it names, the users it names, and whoever
is on call then in the schedules it names (app/oncall). A user is paged by email through their own
paging subscription (sql/250: kept here, its address the user's), so the outbox's delivery log,
retries and the acknowledgement link in the message hold for people as for services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from app.escalation import queries
from app.notifications.models import ESCALATION_EVENT_KINDS
from app.oncall import queries as oncall_queries
from app.oncall import service as oncall


@dataclass
class Targets:
    subscription_ids: list[int] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)  # names found
    users: list[str] = field(default_factory=list)  # usernames paged
    schedules: dict[str, str | None] = field(default_factory=dict)  # schedule -> on call then
    missing: list[str] = field(default_factory=list)  # what the level names but could not be paged

    def details(self) -> dict[str, Any]:
        return {
            "subscriptions": sorted(self.subscriptions),
            "users": self.users,
            "schedules": self.schedules,
            "missing": self.missing,
        }


async def resolve(conn: asyncpg.Connection, level: dict[str, Any], now: datetime) -> Targets:
    """The subscriptions to page for `level` at `now`, creating users' paging subscriptions as needed."""
    targets = Targets()
    named = await conn.fetch(queries.SUBSCRIPTIONS_NAMED, level["subscriptions"])
    targets.subscription_ids = [r["id"] for r in named]
    targets.subscriptions = [r["name"] for r in named]
    found = set(targets.subscriptions)
    targets.missing = [name for name in level["subscriptions"] if name not in found]

    schedule_ids = level.get("schedules", [])
    targets.schedules = await oncall.on_call_for(conn, schedule_ids, now) if schedule_ids else {}
    targets.missing += [f"schedule:{sid}" for sid, who in targets.schedules.items() if who is None]
    wanted = list(dict.fromkeys([*level.get("users", []), *(who for who in targets.schedules.values() if who)]))
    if not wanted:
        return targets
    users = {r["username"].lower(): r for r in await conn.fetch(oncall_queries.USERS_NAMED, wanted)}
    for username in wanted:
        user = users.get(username.lower())
        if user is None or not user["is_active"] or not user["email"]:
            targets.missing.append(f"user:{username}")
            continue
        subscription_id = await conn.fetchval(
            queries.PAGING_SUBSCRIPTION,
            f"user:{user['username']}",
            user["email"],
            list(ESCALATION_EVENT_KINDS),
            user["id"],
        )
        targets.subscription_ids.append(subscription_id)
        targets.users.append(user["username"])
    targets.subscription_ids = list(dict.fromkeys(targets.subscription_ids))
    return targets
