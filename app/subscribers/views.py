"""/api/public/subscriptions: the status page's subscribe form and the links in every message to a
public subscriber. No account and no session: the signed link is the credential (docs/api.md,
Public subscriptions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from app import deps
from app.auth.deps import client_ip
from app.config import Settings
from app.contract import errors
from app.subscribers import service
from app.subscribers.models import (
    TOO_MANY,
    ConfirmBody,
    PublicSubscribe,
    PublicSubscriptionOne,
    ServicesBody,
    SubscribeAccepted,
    Unsubscribed,
)

router = APIRouter(tags=["public subscriptions"])
Token = Query(min_length=1, max_length=2000, description="the token of the link")


@router.post(
    "/api/public/subscriptions",
    status_code=202,
    response_model=SubscribeAccepted,
    responses=errors(422, 429, e429=TOO_MANY),
    summary="Subscribe an email address, webhook, Slack or Teams receiver (no account; confirmed by its owner)",
)
async def subscribe(
    body: PublicSubscribe,
    request: Request,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> dict[str, object]:
    return await service.subscribe(conn, body, client_ip(request), settings, now)


@router.post(
    "/api/public/subscriptions/confirm",
    response_model=PublicSubscriptionOne,
    responses=errors(410),
    summary="Confirm a subscription with the token of its confirmation link (works once)",
)
async def confirm(
    body: ConfirmBody,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> dict[str, object]:
    return {"subscription": await service.confirm(conn, body.token, settings)}


@dataclass(frozen=True)
class Linked:
    """A request made with the token of a link: the token, a connection, the settings."""

    token: str
    conn: asyncpg.Connection
    settings: Settings


async def linked(
    token: str = Token,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> Linked:
    return Linked(token, conn, settings)


ONE: dict[str, Any] = {"response_model": PublicSubscriptionOne, "responses": errors(410)}
GONE: dict[str, Any] = {"response_model": Unsubscribed, "responses": errors(410)}


@router.get("/api/public/subscriptions/manage", **ONE, summary="The subscription of a manage link (receiver masked)")
async def manage(link: Linked = Depends(linked)) -> dict[str, object]:
    return {"subscription": await service.read(link.conn, link.token, link.settings)}


@router.put("/api/public/subscriptions/manage", **ONE, summary="Change the services of a manage link's subscription")
async def change(body: ServicesBody, link: Linked = Depends(linked)) -> dict[str, object]:
    return {"subscription": await service.set_services(link.conn, link.token, body.services, link.settings)}


@router.post("/api/public/subscriptions/manage/unsubscribe", **GONE, summary="Unsubscribe from the manage page")
async def unsubscribe_managed(link: Linked = Depends(linked)) -> dict[str, object]:
    await service.unsubscribe(link.conn, link.token, link.settings, "manage")
    return {"unsubscribed": True}


@router.post(
    "/api/public/subscriptions/unsubscribe",
    **GONE,
    summary="One-click unsubscribe (RFC 8058): the List-Unsubscribe URL of every message, POSTed as is",
)
async def unsubscribe(link: Linked = Depends(linked)) -> dict[str, object]:
    # Mail clients POST `List-Unsubscribe=One-Click` (form-encoded); the body says nothing the token
    # does not, so it is not read (and no session or cookie is needed).
    await service.unsubscribe(link.conn, link.token, link.settings)
    return {"unsubscribed": True}
