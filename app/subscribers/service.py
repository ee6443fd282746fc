"""Public subscriptions: subscribe (double opt-in / challenge), confirm, manage, unsubscribe.

No enumeration: subscribing answers the same whatever state the receiver is in. A new, pending or
unsubscribed receiver is sent a confirmation (nothing else is ever sent before it is confirmed); a
confirmed one is sent a reminder with its manage link instead, which only its owner reads. Messages
to one receiver are limited per hour (beyond that the answer is still the same, and nothing is sent);
requests per client IP are limited with a 429. docs/api.md, Public subscriptions."""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from app.config import Settings
from app.errors import ApiError
from app.notifications import queries as notification_queries
from app.notifications.channels import CHANNELS
from app.notifications.channels.base import Config, ConfigError
from app.notifications.service import check_url
from app.services.service import existing_ids
from app.subscribers import queries, tokens
from app.subscribers.models import CONFIRM_EVENT, PUBLIC_EVENTS, REMINDER_EVENT, PublicSubscribe

WINDOW = timedelta(hours=1)
ACCEPTED = (
    "If this receiver can be reached, a message is on its way: follow it to confirm. Nothing else is sent "
    "until it is confirmed."
)


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422, "validation_error", f"{field}: {message}", [{"in": "body", "field": field, "message": message}]
    )


def _gone(message: str) -> ApiError:
    return ApiError(410, "gone", message)


@dataclass(frozen=True)
class Hit:
    allowed: bool
    retry_after_s: int


async def hit(conn: asyncpg.Connection, key: str, limit: int, now: datetime) -> Hit:
    """Count one request against `key` in its hourly window."""
    row = await conn.fetchrow(queries.HIT, key, now, WINDOW)
    assert row is not None  # INSERT … ON CONFLICT DO UPDATE always returns its row
    wait = (row["window_start"] + WINDOW - now).total_seconds()
    return Hit(row["hits"] <= limit, max(1, math.ceil(wait)))


def receiver_key(kind: str, receiver: str) -> str:
    """The rate-limit key of a receiver: a hash, so that the counters table holds no address."""
    return "receiver:" + hashlib.sha256(f"{kind}|{receiver.lower()}".encode()).hexdigest()


def mask(kind: str, receiver: str) -> str:
    """What a manage page shows of the receiver: enough to recognise it, not to read it."""
    if kind == "email":
        local, _, domain = receiver.partition("@")
        return f"{local[:1]}…@{domain}"
    parts = urlsplit(receiver)
    return f"{parts.scheme}://{parts.hostname}/…"


async def _check_services(conn: asyncpg.Connection, services: list[str]) -> None:
    known = await existing_ids(conn, services) if services else set()
    unknown = [s for s in services if s not in known]
    if unknown:
        raise _invalid("services", f"unknown services: {', '.join(unknown)}")


async def _check(conn: asyncpg.Connection, data: PublicSubscribe, settings: Settings) -> str:
    """The receiver as stored, once its channel accepts it, the services exist and the URL is allowed."""
    receiver = data.email if data.kind == "email" else str(data.url)
    assert receiver is not None  # the model requires the kind's address
    try:
        CHANNELS[data.kind].validate(Config(None if data.kind == "email" else receiver, data.email, None, {}))
    except ConfigError as exc:
        raise _invalid(exc.field, str(exc)) from None
    await _check_services(conn, data.services)
    if data.kind != "email":
        await check_url(receiver, settings.subscribe_allow_private)
    return receiver


async def _send_owner(conn: asyncpg.Connection, subscription_id: int, kind: str, payload: dict[str, Any]) -> None:
    key = f"{kind}:{subscription_id}:{uuid.uuid4().hex}"
    await conn.fetchval(
        queries.INSERT_OWNER_DELIVERY,
        subscription_id,
        key,
        kind,
        payload.get("services", []),
        json.dumps(payload, default=str),
    )
    await conn.execute(notification_queries.WAKE, key)


def _confirm_payload(settings: Settings, row: asyncpg.Record, nonce: str, now: datetime) -> dict[str, Any]:
    expires_at = now + timedelta(hours=settings.subscribe_confirm_hours)
    token = tokens.issue(settings.resolved_secret_key(), "confirm", row["id"], nonce, expires_at)
    return {
        "challenge": nonce,
        "confirmUrl": tokens.page_url(settings.public_url(), "subscriptions/confirm", token),
        "expiresAt": expires_at,
        "services": list(row["service_ids"]),
    }


async def subscribe(
    conn: asyncpg.Connection, data: PublicSubscribe, client_ip: str, settings: Settings, now: datetime
) -> dict[str, Any]:
    """Ask for a subscription; the same answer for a new, pending, confirmed or unsubscribed receiver."""
    by_ip = await hit(conn, f"ip:{client_ip}", settings.subscribe_ip_per_hour, now)
    if not by_ip.allowed:
        raise ApiError(
            429,
            "too_many_requests",
            f"too many subscription requests from this address; try again in {by_ip.retry_after_s} s",
            headers={"Retry-After": str(by_ip.retry_after_s)},
        )
    await conn.execute(queries.PRUNE, now, WINDOW)
    receiver = await _check(conn, data, settings)
    by_receiver = await hit(conn, receiver_key(data.kind, receiver), settings.subscribe_receiver_per_hour, now)
    nonce = secrets.token_urlsafe(24)
    async with conn.transaction():
        row = await conn.fetchrow(
            queries.INSERT_PENDING,
            f"public {data.kind} subscriber",
            data.kind,
            None if data.kind == "email" else receiver,
            data.email,
            list(PUBLIC_EVENTS),
            data.services,
            nonce,
            secrets.token_urlsafe(24),
            settings.subscribe_allow_private,
        )
        if row is None:
            row = await conn.fetchrow(queries.LOCK_RECEIVER, data.kind, receiver.lower() if data.email else receiver)
            assert row is not None  # the insert met this row and it is never deleted by this path
            if not row["active"]:
                await conn.execute(queries.RENEW_PENDING, row["id"], data.services, nonce)
                row = await conn.fetchrow(queries.GET_PUBLIC, row["id"])
                assert row is not None  # locked above
        if by_receiver.allowed:
            if row["active"]:
                await _send_owner(conn, row["id"], REMINDER_EVENT, {"services": list(row["service_ids"])})
            else:
                await _send_owner(conn, row["id"], CONFIRM_EVENT, _confirm_payload(settings, row, nonce, now))
    return {"accepted": True, "message": ACCEPTED}


def to_read(row: asyncpg.Record) -> dict[str, Any]:
    status = "confirmed" if row["active"] else "unsubscribed" if row["unsubscribed_at"] else "pending"
    return {
        "kind": row["kind"],
        "receiver": mask(row["kind"], row["email"] or row["url"]),
        "services": list(row["service_ids"]),
        "status": status,
        "confirmedAt": row["confirmed_at"],
    }


def _link(settings: Settings, token: str, purpose: tokens.Purpose) -> tokens.Link:
    try:
        return tokens.read(settings.resolved_secret_key(), token, purpose)
    except tokens.LinkError as exc:
        raise _gone(str(exc)) from None


async def confirm(conn: asyncpg.Connection, token: str, settings: Settings) -> dict[str, Any]:
    """Confirm with the link's token: once (a second use, or an older link after a newer one, is 410)."""
    link = _link(settings, token, "confirm")
    row = await conn.fetchrow(queries.CONFIRM, link.subscription_id, link.nonce)
    if row is None:
        raise _gone("this link was already used or replaced by a newer one")
    return to_read(row)


async def _owned(conn: asyncpg.Connection, token: str, purpose: tokens.Purpose, settings: Settings) -> asyncpg.Record:
    """The subscription a manage link names, while the link is valid."""
    link = _link(settings, token, purpose)
    row = await conn.fetchrow(queries.GET_PUBLIC, link.subscription_id)
    if row is None or row["link_nonce"] != link.nonce:
        raise _gone("this link is no longer valid")
    return row


async def read(conn: asyncpg.Connection, token: str, settings: Settings) -> dict[str, Any]:
    return to_read(await _owned(conn, token, "manage", settings))


async def set_services(conn: asyncpg.Connection, token: str, services: list[str], settings: Settings) -> dict[str, Any]:
    owned = await _owned(conn, token, "manage", settings)
    await _check_services(conn, services)
    row = await conn.fetchrow(queries.SET_SERVICES, owned["id"], owned["link_nonce"], services)
    if row is None:
        raise _gone("this link is no longer valid")
    return to_read(row)


async def unsubscribe(
    conn: asyncpg.Connection, token: str, settings: Settings, purpose: tokens.Purpose = "unsubscribe"
) -> None:
    """Stop every message to this receiver (idempotent: a second click answers the same)."""
    link = _link(settings, token, purpose)
    if await conn.fetchrow(queries.UNSUBSCRIBE, link.subscription_id, link.nonce) is None:
        raise _gone("this link is no longer valid")


async def forget_unconfirmed(conn: asyncpg.Connection, settings: Settings, now: datetime) -> int:
    """Drop the receivers nobody confirmed, a day after their last link expired (the worker's tick)."""
    keep = timedelta(hours=settings.subscribe_confirm_hours) + timedelta(days=1)
    status = await conn.execute(queries.FORGET_UNCONFIRMED, now, keep)
    return int(status.split()[-1])


async def confirm_by_echo(conn: asyncpg.Connection, subscription_id: int, challenge: str, answer: str | None) -> bool:
    """A receiver that answered its challenge delivery with the challenge in the body is confirmed."""
    if not answer or challenge not in answer:
        return False
    return await conn.execute(queries.CONFIRM_BY_ECHO, subscription_id, challenge) == "UPDATE 1"
