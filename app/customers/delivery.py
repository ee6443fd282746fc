"""Statement delivery (docs/operations.md, Statement delivery): each customer's frozen statement of
a closed month, emailed to the contacts with its PDF attached and a signed link, and posted to the
statements webhook if one is set — through the notifications outbox, so that every message has its
delivery, attempts and outcome in the delivery log, retries with back-off, and a stable delivery id
(the email's Message-ID, the webhook's X-SLAMon-Delivery).

Once per month: the event key `statement:<customer>:<YYYY-MM>` is unique, so a month's statement is
recorded for delivery once, whoever runs it (the worker's schedule, `slamon report deliver`, twice,
concurrently, or again after a crash); `again` records `...:again:<n>`. Sending is the outbox's claim
-> send -> record: a message recorded as sent is never sent again, and one cut short by a crash is
sent again after its lease (docs/operations.md says what that means for the receiver)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app.config import Settings
from app.customers import links, queries, render, statements
from app.customers.models import StatementDelivery, StatementMessage
from app.formatting import utc_iso
from app.notifications.queries import WAKE
from app.periods import Period

log = logging.getLogger(__name__)

# A connection of its own or one a pool lent: both take the same statements.
Connection = asyncpg.Connection | PoolConnectionProxy
EVENT_KIND = "statement.ready"
WEBHOOK_OWNER = "statements"


@dataclass
class Planned:
    """One customer's statement of the month, and what a delivery run does with it."""

    customer_id: str
    customer_name: str
    month: str
    revision: int | None  # the latest frozen revision; None: the month's statement is not frozen
    receivers: list[str]  # "email <address>" / "webhook <url>"
    event_key: str | None  # None: nothing to record (delivered already, not frozen, no receiver)
    skipped: str = ""  # why nothing is sent, in words
    delivery_ids: list[str] = field(default_factory=list)


def base_key(customer_id: str, month_label: str) -> str:
    return f"statement:{customer_id}:{month_label}"


def _receivers(customer: asyncpg.Record, settings: Settings) -> list[str]:
    found = [f"email {address}" for address in customer["contacts"]]
    if settings.statement_webhook_url:
        found.append(f"webhook {settings.statement_webhook_url}")
    return found


async def plan(
    conn: Connection, settings: Settings, period: Period, customer_id: str | None, again: bool
) -> list[Planned]:
    """What a delivery run of the month would do, customer by customer (nothing is written)."""
    planned = []
    for customer in await conn.fetch(queries.LIST):
        if customer_id is not None and customer["id"] != customer_id:
            continue
        if customer["starts_on"] >= period.end_day:
            continue  # no contract that month: no statement
        latest = await conn.fetchrow(queries.STATEMENT_LATEST, customer["id"], period.first_day)
        done = await conn.fetch(queries.STATEMENT_DELIVERIES_OF, customer["id"], period.first_day)
        item = Planned(
            customer["id"],
            customer["name"],
            period.label,
            None if latest is None else latest["revision"],
            _receivers(customer, settings),
            None,
        )
        if latest is None:
            item.skipped = "the month is not closed yet (no frozen statement)"
        elif not item.receivers:
            item.skipped = "no contacts and no statements webhook"
        elif done and not again:
            item.skipped = f"delivered already ({done[0]['created_at']:%Y-%m-%d %H:%M} UTC); --again sends it again"
        else:
            key = base_key(customer["id"], period.label)
            item.event_key = f"{key}:again:{len(done)}" if done else key
        planned.append(item)
    return planned


async def _receiver_ids(conn: Connection, customer: asyncpg.Record, settings: Settings) -> list[int]:
    """The subscriptions the statement goes to, created or taken over as the contract and settings say."""
    owner = f"customer:{customer['id']}"
    ids = []
    for address in customer["contacts"]:
        name = f"statements: {customer['name']} <{address}>"[:100]
        ids.append(await conn.fetchval(queries.UPSERT_RECEIVER, name, "email", None, address, None, False, owner))
    if settings.statement_webhook_url:
        ids.append(
            await conn.fetchval(
                queries.UPSERT_RECEIVER,
                "statements webhook",
                "webhook",
                settings.statement_webhook_url,
                None,
                settings.statement_webhook_secret,
                settings.statement_webhook_allow_private,
                WEBHOOK_OWNER,
            )
        )
    return ids


def payload(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """What the event says (the webhook's `data`, the email's text): the summary and the signed link."""
    meta, summary, credits = doc["statement"], doc["summary"], doc["credits"]
    link = links.StatementLink(meta["customerId"], meta["month"], meta["revision"])
    return {
        "statement": {
            "customerId": meta["customerId"],
            "customerName": doc["customer"]["name"],
            "month": meta["month"],
            "revision": meta["revision"],
            "availabilityPercent": summary["availabilityPercent"],
            "targetPercent": summary["targetPercent"],
            "targetMet": summary["targetMet"],
            "creditPercent": credits["totalPercent"],
            "creditAmount": credits["amount"],
            "currency": credits["currency"],
            "deductFrom": credits["deductFrom"],
            "url": settings.public_url(links.path(settings.resolved_secret_key(), link)),
            "pdfFile": render.file_name(doc, "pdf"),
        }
    }


async def _record(
    pool: asyncpg.Pool, settings: Settings, period: Period, item: Planned, now: datetime, requested_by: str
) -> list[str]:
    """Print the statement and record its event, attachment and deliveries in one transaction."""
    assert item.event_key is not None
    async with pool.acquire() as conn:
        customer = await conn.fetchrow(queries.GET, item.customer_id)
        if customer is None:
            return []  # removed since the plan
        doc = await statements.get(cast(asyncpg.Connection, conn), customer, period, now, settings.timezone)
    language = settings.statement_delivery_language
    pdf = await render.print_pdf(
        doc, language, settings.organisation_name, settings.organisation_logo, settings.chromium_path
    )
    body = payload(doc, settings)
    async with pool.acquire() as conn, conn.transaction():
        event_id = await conn.fetchval(
            queries.INSERT_STATEMENT_EVENT, item.event_key, list(customer["services"]), json.dumps(body), now
        )
        if event_id is None:
            return []  # recorded meanwhile by another run
        await conn.execute(queries.INSERT_ATTACHMENT, event_id, 0, body["statement"]["pdfFile"], "application/pdf", pdf)
        receivers = await _receiver_ids(conn, customer, settings)
        ids = [r["id"] for r in await conn.fetch(queries.INSERT_DELIVERIES, event_id, item.event_key, receivers)]
        await conn.execute(
            queries.INSERT_STATEMENT_DELIVERY,
            item.customer_id,
            period.first_day,
            item.event_key,
            doc["statement"]["revision"],
            len(ids),
            requested_by,
        )
        await conn.execute(WAKE, item.event_key)  # the workers send at once (workers/notify.py)
    return ids


async def deliver_month(
    pool: asyncpg.Pool,
    settings: Settings,
    period: Period,
    now: datetime,
    *,
    customer_id: str | None = None,
    again: bool = False,
    dry_run: bool = False,
    requested_by: str = "schedule",
) -> list[Planned]:
    """Record the month's statements for delivery (each customer once; `again` once more); the
    outbox sends them. With dry_run, only say what would be sent."""
    async with pool.acquire() as conn:
        planned = await plan(conn, settings, period, customer_id, again)
    if dry_run:
        return planned
    for item in planned:
        if item.event_key is None:
            continue
        item.delivery_ids = await _record(pool, settings, period, item, now, requested_by)
        if not item.delivery_ids:
            item.skipped = "recorded meanwhile by another delivery run"
    sent = [item.customer_id for item in planned if item.delivery_ids]
    if sent:
        log.info("statements of %s recorded for delivery: %s", period.label, sent, extra={"job": "deliver_statements"})
    return planned


async def outcomes(conn: Connection, event_keys: list[str]) -> list[asyncpg.Record]:
    """Each delivery of these runs with its receiver, status, attempts and last error (the log)."""
    return await conn.fetch(queries.DELIVERY_OUTCOMES, event_keys)


async def history(conn: Connection, customer_id: str, period: Period) -> list[StatementDelivery]:
    """Every delivery of a customer's month, oldest first, each with its messages and their outcomes."""
    runs = await conn.fetch(queries.STATEMENT_DELIVERIES_OF, customer_id, period.first_day)
    by_key: dict[str, list[StatementMessage]] = {r["event_key"]: [] for r in runs}
    for row in await outcomes(conn, list(by_key)):
        by_key[row["event_key"]].append(
            StatementMessage(
                delivery_id=row["id"],
                channel=row["kind"],
                receiver=row["receiver"],
                status=row["status"],
                attempts=row["attempts"],
                last_error=row["last_error"],
                completed_at=utc_iso(row["completed_at"]),
            )
        )
    return [
        StatementDelivery(
            event_key=r["event_key"],
            revision=r["revision"],
            requested_by=r["requested_by"],
            created_at=utc_iso(r["created_at"]),
            messages=by_key[r["event_key"]],
        )
        for r in runs
    ]
