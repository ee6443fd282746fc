"""/api/public/subscriptions: the status page's subscribe form and the links in every message to a
public subscriber. No account and no session: the signed link is the credential (docs/api.md,
Public subscriptions)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from app import deps
from app.auth.deps import client_ip
from app.config import Settings
from app.subscribers import service
from app.subscribers.models import (
    ConfirmBody,
    PublicSubscribe,
    PublicSubscriptionOne,
    ServicesBody,
    SubscribeAccepted,
    Unsubscribed,
    error_responses,
)

router = APIRouter(tags=["public subscriptions"])
Token = Query(min_length=1, max_length=2000, description="the token of the link")


@router.post(
    "/api/public/subscriptions",
    status_code=202,
    response_model=SubscribeAccepted,
    responses=error_responses(422, 429),
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
    responses=error_responses(410),
    summary="Confirm a subscription with the token of its confirmation link (works once)",
)
async def confirm(
    body: ConfirmBody,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> dict[str, object]:
    return {"subscription": await service.confirm(conn, body.token, settings)}


@router.get(
    "/api/public/subscriptions/manage",
    response_model=PublicSubscriptionOne,
    responses=error_responses(410),
    summary="The subscription of a manage link (the receiver masked)",
)
async def manage(
    token: str = Token,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> dict[str, object]:
    return {"subscription": await service.read(conn, token, settings)}


@router.put(
    "/api/public/subscriptions/manage",
    response_model=PublicSubscriptionOne,
    responses=error_responses(410),
    summary="Change the services of the subscription of a manage link",
)
async def change(
    body: ServicesBody,
    token: str = Token,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> dict[str, object]:
    return {"subscription": await service.set_services(conn, token, body.services, settings)}


@router.post(
    "/api/public/subscriptions/manage/unsubscribe",
    response_model=Unsubscribed,
    responses=error_responses(410),
    summary="Unsubscribe from the manage page (its token)",
)
async def unsubscribe_managed(
    token: str = Token,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> dict[str, object]:
    await service.unsubscribe(conn, token, settings, "manage")
    return {"unsubscribed": True}


@router.post(
    "/api/public/subscriptions/unsubscribe",
    response_model=Unsubscribed,
    responses=error_responses(410),
    summary="One-click unsubscribe (RFC 8058): the List-Unsubscribe URL of every message, POSTed as is",
)
async def unsubscribe(
    token: str = Token,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> dict[str, object]:
    # Mail clients POST `List-Unsubscribe=One-Click` (form-encoded); the body says nothing the token
    # does not, so it is not read (and no session or cookie is needed).
    await service.unsubscribe(conn, token, settings)
    return {"unsubscribed": True}
