"""Subscriptions (list, get, create, update, delete), their delivery log, and test sends. Writes are
audited; the signing secret is shown once, when it is created or rotated, and never audited."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
import socket
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import asyncpg

from app.audit import service as audit
from app.contract import Pagination
from app.errors import ApiError, not_found
from app.net import ssrf
from app.notifications import queries
from app.notifications.channels import CHANNELS
from app.notifications.channels.base import Channel, Config, ConfigError
from app.notifications.models import (
    AttemptRead,
    DeliveryPage,
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionPage,
    SubscriptionRead,
    SubscriptionUpdate,
    TestSent,
)
from app.services.service import existing_ids

if TYPE_CHECKING:
    from app.audit.service import Actor

DNS_TIMEOUT_S = 3.0


def to_read(row: asyncpg.Record, secret_shown: bool = False) -> SubscriptionRead:
    """A subscription as the API shows it; `secret` is set only where it is shown (the routes answer
    with exclude_unset, so elsewhere the key is absent, not null)."""
    return SubscriptionRead(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        url=row["url"],
        email=row["email"],
        options=json.loads(row["options"]),
        events=list(row["events"]),
        services=list(row["service_ids"]),
        allow_private=row["allow_private"],
        active=row["active"],
        signed=row["secret"] is not None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        **({"secret": row["secret"]} if secret_shown else {}),
    )


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422, "validation_error", f"{field}: {message}", [{"in": "body", "field": field, "message": message}]
    )


async def check_url(url: str, allow_private: bool) -> None:
    """Refuse a receiver the worker would refuse: a forbidden literal address, or a name that does not
    resolve or resolves to a forbidden address (loopback/private unless allowed, metadata always)."""
    host = urlsplit(url).hostname or ""
    blocked = ssrf.check_host(host, allow_private)
    if blocked:
        raise _invalid("url", blocked)
    if ssrf.parse_ip_literal(host) is not None:
        return
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(DNS_TIMEOUT_S):
            infos = await loop.run_in_executor(
                ssrf.dns_executor(), socket.getaddrinfo, host, None, 0, socket.SOCK_STREAM
            )
    except (OSError, UnicodeError, ValueError, TimeoutError) as exc:
        raise _invalid("url", f"host {host!r} does not resolve ({exc or 'timed out'})") from None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])  # an IPv6 address may carry a %scope
        reason = ssrf.forbidden_reason(ip, allow_private)
        if reason:
            hint = "" if reason == "cloud metadata address" else "; set allow_private to send to it"
            raise _invalid("url", f"blocked: {host} resolves to a {reason} ({ip}){hint}")


FIELDS = ("name", "kind", "url", "email", "secret", "options", "events", "service_ids", "allow_private", "active")


def _channel(kind: str) -> Channel[Any]:
    channel = CHANNELS.get(kind)
    if channel is None:  # only a stored kind can be unknown: the API's own are checked by the model
        raise _invalid("kind", f"no {kind!r} channel in this version (one of {', '.join(CHANNELS)})")
    return channel


async def _validated(conn: asyncpg.Connection, values: dict[str, Any], check_receiver: bool = True) -> list[Any]:
    """The column values in FIELDS order, once the channel accepts its configuration, the services
    exist and the receiver is allowed."""
    config = Config(values["url"], values["email"], values["secret"], values["options"])
    try:
        values["options"] = _channel(values["kind"]).validate(config)
    except ConfigError as exc:
        raise _invalid(exc.field, str(exc)) from None
    known = await existing_ids(conn, values["service_ids"]) if values["service_ids"] else set()
    unknown = [s for s in values["service_ids"] if s not in known]
    if unknown:
        raise _invalid("services", f"unknown services: {', '.join(unknown)}")
    if values["url"] is not None and check_receiver:
        await check_url(values["url"], values["allow_private"])
    return [json.dumps(values[k]) if k == "options" else values[k] for k in FIELDS]


async def list_subscriptions(conn: asyncpg.Connection, page: int, limit: int) -> SubscriptionPage:
    total = await conn.fetchval(queries.COUNT_SUBSCRIPTIONS)
    rows = await conn.fetch(queries.LIST_SUBSCRIPTIONS, limit, (page - 1) * limit)
    return SubscriptionPage(subscriptions=[to_read(r) for r in rows], pagination=Pagination.of(page, limit, total))


async def get(conn: asyncpg.Connection, subscription_id: int) -> SubscriptionRead:
    row = await conn.fetchrow(queries.GET_SUBSCRIPTION, subscription_id)
    if row is None:
        raise not_found("subscription", str(subscription_id))
    return to_read(row)


def _audit_details(values: dict[str, Any]) -> dict[str, Any]:
    details = {k: v for k, v in values.items() if k != "secret"}
    if "secret" in values:
        details["secret"] = "set" if values["secret"] else None
    return details


async def create(conn: asyncpg.Connection, data: SubscriptionCreate, actor: Actor) -> SubscriptionRead:
    """Add a subscription; signing channels get a secret (generated unless given), shown in this answer."""
    values: dict[str, Any] = {
        "name": data.name,
        "kind": data.kind,
        "url": None if data.url is None else str(data.url),
        "email": data.email,
        "secret": data.secret,
        "options": data.options,
        "events": data.events,
        "service_ids": data.services,
        "allow_private": data.allow_private,
        "active": data.active,
    }
    if CHANNELS[data.kind].signs and values["secret"] is None:
        values["secret"] = secrets.token_urlsafe(32)
    columns = await _validated(conn, values)
    async with conn.transaction():
        row = await conn.fetchrow(queries.INSERT_SUBSCRIPTION, *columns)
        assert row is not None  # INSERT … RETURNING answers one row or raises
        await audit.record_by(
            conn, actor, "subscription.create", "subscription", str(row["id"]), _audit_details(values)
        )
    return to_read(row, secret_shown=row["secret"] is not None)


async def update(
    conn: asyncpg.Connection, subscription_id: int, data: SubscriptionUpdate, actor: Actor
) -> SubscriptionRead:
    """Change the given fields; a new `secret` is shown in this answer."""
    given = data.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in given:
        given["url"] = str(data.url)
    if "services" in given:
        given["service_ids"] = given.pop("services")
    async with conn.transaction():
        row = await conn.fetchrow(queries.GET_SUBSCRIPTION_FOR_UPDATE, subscription_id)
        if row is None:
            raise not_found("subscription", str(subscription_id))
        values = {k: row[k] for k in FIELDS} | {"options": json.loads(row["options"])} | given
        channel = _channel(values["kind"])
        # A new kind keeps only what it takes: the other address, and the old channel's options, go.
        if channel.address == "email" and "url" not in given:
            values["url"] = None
        if channel.address == "url" and "email" not in given:
            values["email"] = None
        if values["kind"] != row["kind"] and "options" not in given:
            values["options"] = {}
        if channel.signs and values["secret"] is None:
            values["secret"] = secrets.token_urlsafe(32)
        # Pausing or renaming works even while the receiver's name does not resolve.
        columns = await _validated(conn, values, check_receiver=bool({"url", "kind", "allow_private"} & set(given)))
        updated = await conn.fetchrow(queries.UPDATE_SUBSCRIPTION, subscription_id, *columns)
        assert updated is not None  # the row is locked above (FOR UPDATE): it is still there
        await audit.record_by(
            conn,
            actor,
            "subscription.update",
            "subscription",
            str(subscription_id),
            {"fields": sorted(given)} | _audit_details(given),
        )
    return to_read(updated, secret_shown=updated["secret"] != row["secret"])


async def delete(conn: asyncpg.Connection, subscription_id: int, actor: Actor) -> None:
    """Remove a subscription and its delivery log."""
    async with conn.transaction():
        name = await conn.fetchval(queries.DELETE_SUBSCRIPTION, subscription_id)
        if name is None:
            raise not_found("subscription", str(subscription_id))
        await audit.record_by(conn, actor, "subscription.delete", "subscription", str(subscription_id), {"name": name})


async def send_test(conn: asyncpg.Connection, subscription_id: int, actor: Actor) -> TestSent:
    """Queue a `test` event to this subscription only; the worker sends it like any other."""
    await get(conn, subscription_id)
    key = f"test:{subscription_id}:{uuid.uuid4().hex}"
    payload = {"message": f"Test notification requested by {actor.username}."}
    async with conn.transaction():
        delivery_id = await conn.fetchval(queries.INSERT_TEST_DELIVERY, subscription_id, key, json.dumps(payload))
        await conn.execute(queries.WAKE, key)
        await audit.record_by(
            conn, actor, "subscription.test", "subscription", str(subscription_id), {"delivery": str(delivery_id)}
        )
    return TestSent(delivery_id=str(delivery_id), event_key=key)


def _attempt_to_read(row: asyncpg.Record) -> AttemptRead:
    # An attempt without an outcome is in flight, or was cut short (the worker stopped mid-attempt).
    outcome = "unfinished" if row["finished_at"] is None else "failed" if row["error"] else "succeeded"
    return AttemptRead(
        attempt=row["attempt"],
        outcome=outcome,
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status_code=row["status_code"],
        error=row["error"],
        response_body=row["response_body"],
    )


async def deliveries(
    conn: asyncpg.Connection, subscription_id: int, status: str | None, page: int, limit: int
) -> DeliveryPage:
    """The delivery log of a subscription, newest first, each with its attempts."""
    await get(conn, subscription_id)
    total = await conn.fetchval(queries.COUNT_DELIVERIES, subscription_id, status)
    rows = await conn.fetch(queries.LIST_DELIVERIES, subscription_id, status, limit, (page - 1) * limit)
    attempts: dict[str, list[AttemptRead]] = {}
    for a in await conn.fetch(queries.ATTEMPTS_OF, [r["id"] for r in rows]):
        attempts.setdefault(str(a["delivery_id"]), []).append(_attempt_to_read(a))
    items = [
        DeliveryRead(
            id=str(r["id"]),
            event=r["event_kind"],
            event_key=r["event_key"],
            occurred_at=r["occurred_at"],
            status=r["status"],
            attempts=r["attempts"],
            next_attempt_at=r["next_attempt_at"] if r["status"] == "pending" else None,
            last_status_code=r["last_status_code"],
            last_error=r["last_error"],
            created_at=r["created_at"],
            completed_at=r["completed_at"],
            log=attempts.get(str(r["id"]), []),
        )
        for r in rows
    ]
    return DeliveryPage(deliveries=items, pagination=Pagination.of(page, limit, total))
