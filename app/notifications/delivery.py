"""Fan-out and delivery, run by the worker (workers/notify.py).

Events become one delivery per matching subscription (unique on (subscription, event key)); an
attempt first claims its delivery in the database (attempt count + lease, committed), then sends,
then records the outcome. So two jobs for one delivery never send at once, a delivery recorded as
delivered is never sent again, and an attempt cut short by a crash is retried with the same delivery
id once its lease has run out: at-least-once, with a stable id receivers de-duplicate on."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

import asyncpg

from app.notifications import queries
from app.notifications.channels import CHANNELS
from app.notifications.channels.base import Attachment, Delivery
from app.notifications.senders import Outcome, Senders
from app.subscribers import service as subscribers
from app.subscribers import tokens
from app.subscribers.models import CONFIRM_EVENT

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger(__name__)

BATCH = 500
LEASE_MARGIN_S = 5.0  # beyond the hard timeout: an attempt's lease outlives the attempt


@dataclass
class Result:
    delivery_id: str
    status: str  # delivered | pending (retry scheduled) | failed | skipped (not due, held elsewhere or gone)
    attempts: int = 0
    next_attempt_at: datetime | None = None


async def dispatch(conn: asyncpg.Connection) -> int:
    """Fan every undispatched event out into deliveries; returns how many deliveries were created."""
    created = 0
    while True:
        row = await conn.fetchrow(queries.DISPATCH, BATCH)
        assert row is not None  # an aggregate SELECT answers one row
        created += int(row["deliveries"])
        if row["events"] < BATCH:
            return created


async def due(conn: asyncpg.Connection, limit: int = BATCH) -> list[tuple[str, int]]:
    """Deliveries whose next attempt is due and that no attempt holds: (id, attempts so far)."""
    return [(str(r["id"]), r["attempts"]) for r in await conn.fetch(queries.DUE_DELIVERIES, limit)]


def backoff_s(settings: Settings, attempt: int, retry_after_s: float | None = None) -> float:
    """Delay after failed attempt n: base x 2^(n-1), at least what Retry-After asked, capped."""
    delay: float = settings.webhook_backoff_s * 2 ** min(attempt - 1, 30)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return min(delay, settings.webhook_backoff_max_s)


def _links(claim: asyncpg.Record, settings: Settings) -> tokens.Links | None:
    """A public subscriber's manage and unsubscribe links (app/subscribers), signed at each attempt."""
    if not claim["public"]:
        return None
    return tokens.links(
        settings.resolved_secret_key(), settings.public_url(), claim["subscription_id"], claim["link_nonce"]
    )


async def _attachments(conn: asyncpg.Connection, claim: asyncpg.Record) -> tuple[Attachment, ...]:
    """The event's files, for a channel that sends to an address (email); none for the others."""
    channel = CHANNELS.get(claim["kind"])
    if channel is None or channel.address != "email":
        return ()
    rows = await conn.fetch(queries.ATTACHMENTS, claim["event_id"])
    return tuple(Attachment(r["filename"], r["content_type"], bytes(r["body"])) for r in rows)


async def _send(
    claim: asyncpg.Record, senders: Senders, settings: Settings, attachments: tuple[Attachment, ...] = ()
) -> Outcome:
    # A message about the subscription itself (a public subscriber's confirmation) goes before it is active.
    if not claim["active"] and not claim["event_kind"].startswith("subscription."):
        return Outcome(False, error="subscription is paused", permanent=True)
    channel = CHANNELS.get(claim["kind"])
    if channel is None:  # a subscription of a channel this version does not have
        return Outcome(False, error=f"no {claim['kind']!r} channel in this version", permanent=True)
    item = Delivery.from_claim(claim, _links(claim, settings), attachments)
    return await channel.send(channel.render(item, settings), item, senders)


async def deliver(pool: asyncpg.Pool, clients: Senders, settings: Settings, delivery_id: str) -> Result:
    """One attempt at a delivery, if it is due and free; records the outcome and the next attempt."""
    lease_s = settings.webhook_timeout_s + LEASE_MARGIN_S
    async with pool.acquire() as proxy:
        conn = cast(asyncpg.Connection, proxy)
        row = await conn.fetchrow(queries.CLAIM, delivery_id, lease_s)
        attachments = () if row is None else await _attachments(conn, row)
    if row is None:
        return Result(delivery_id, "skipped")
    attempt = row["attempts"]
    try:
        outcome = await _send(row, clients, settings, attachments)
    except Exception as exc:  # a bug in rendering must not wedge the delivery: it is logged and retried
        log.exception("notification delivery failed unexpectedly", extra={"job": "notify_deliver"})
        outcome = Outcome(False, error=f"internal error: {type(exc).__name__}")
    async with pool.acquire() as proxy, proxy.transaction():
        conn = cast(asyncpg.Connection, proxy)
        await conn.execute(
            queries.FINISH_ATTEMPT, delivery_id, attempt, outcome.status_code, outcome.error, outcome.response_body
        )
        if outcome.ok:
            await conn.execute(queries.MARK_DELIVERED, delivery_id, outcome.status_code)
            if row["public"] and row["event_kind"] == CONFIRM_EVENT:  # answered with the challenge?
                challenge = json.loads(row["payload"])["challenge"]
                await subscribers.confirm_by_echo(conn, row["subscription_id"], challenge, outcome.response_body)
            return Result(delivery_id, "delivered", attempt)
        give_up = outcome.permanent or attempt >= settings.webhook_max_attempts
        delay = None if give_up else backoff_s(settings, attempt, outcome.retry_after_s)
        marked = await conn.fetchrow(
            queries.MARK_FAILED, delivery_id, attempt, outcome.status_code, outcome.error, delay
        )
    log.info(
        "notification attempt failed: %s",
        outcome.error,
        extra={"job": "notify_deliver", "delivery_id": delivery_id, "attempt": attempt},
    )
    if marked is None:  # a newer attempt took over meanwhile
        return Result(delivery_id, "skipped", attempt)
    return Result(delivery_id, marked["status"], attempt, marked["next_attempt_at"])
