"""/api/subscriptions: notification subscriptions and their delivery log (admin: system settings,
PRD §6.2). The router is authenticated by default; every route names its permission."""

from __future__ import annotations

from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Query

from app import deps
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.contract import Success, errors
from app.notifications import service
from app.notifications.channels import CHANNELS
from app.notifications.models import (
    DeliveryPage,
    SubscriptionCreate,
    SubscriptionOne,
    SubscriptionPage,
    SubscriptionUpdate,
    TestSent,
)

router = APIRouter(tags=["notifications"], dependencies=[Depends(current_user)])
SubscriptionId = Path(ge=1, le=2**62)
admin = require("notifications:write")
_ONE, _ID = "#/paths/~1api~1subscriptions~1{subscription_id}", {"subscription_id": "$response.body#/subscription/id"}
# OpenAPI links: what a client (and the stateful schemathesis test) can do next with a new subscription.
SUBSCRIPTION_LINKS = {
    "GetSubscription": {"operationRef": f"{_ONE}/get", "parameters": _ID},
    "EditSubscription": {"operationRef": f"{_ONE}/put", "parameters": _ID},
    "DeleteSubscription": {"operationRef": f"{_ONE}/delete", "parameters": _ID},
    "SendTest": {"operationRef": f"{_ONE}~1test/post", "parameters": _ID},
    "ListDeliveries": {"operationRef": f"{_ONE}~1deliveries/get", "parameters": _ID},
}


# One subscription: `secret` appears only where it is shown (create, and a PUT that changes it).
ONE_SUBSCRIPTION: dict[str, Any] = {
    "response_model": SubscriptionOne,
    "response_model_exclude_unset": True,
    "responses": errors(404),
}


@router.get(
    "/api/subscriptions",
    response_model=SubscriptionPage,
    response_model_exclude_unset=True,
    summary="Notification subscriptions (admin)",
)
async def list_subscriptions(
    page: int = Query(1, ge=1, le=10_000),
    limit: int = Query(50, ge=1, le=200),
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> SubscriptionPage:
    return await service.list_subscriptions(conn, page, limit)


@router.post(
    "/api/subscriptions",
    status_code=201,
    response_model=SubscriptionOne,
    response_model_exclude_unset=True,  # `secret` only where it is shown
    responses={201: {"links": SUBSCRIPTION_LINKS}},
    summary=f"Subscribe a receiver ({', '.join(CHANNELS)}; admin); the answer shows the secret",
)
async def create_subscription(
    body: SubscriptionCreate, actor: Principal = Depends(admin), conn: asyncpg.Connection = Depends(deps.connection)
) -> SubscriptionOne:
    return SubscriptionOne(subscription=await service.create(conn, body, actor))


@router.get("/api/subscriptions/{subscription_id}", **ONE_SUBSCRIPTION, summary="One subscription (admin)")
async def get_subscription(
    subscription_id: int = SubscriptionId,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> SubscriptionOne:
    return SubscriptionOne(subscription=await service.get(conn, subscription_id))


@router.put(
    "/api/subscriptions/{subscription_id}",
    **ONE_SUBSCRIPTION,
    summary="Change the given fields of a subscription (admin)",
)
async def update_subscription(
    body: SubscriptionUpdate,
    subscription_id: int = SubscriptionId,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> SubscriptionOne:
    return SubscriptionOne(subscription=await service.update(conn, subscription_id, body, actor))


@router.delete(
    "/api/subscriptions/{subscription_id}",
    response_model=Success,
    responses=errors(404),
    summary="Delete a subscription and its log (admin)",
)
async def delete_subscription(
    subscription_id: int = SubscriptionId,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Success:
    await service.delete(conn, subscription_id, actor)
    return Success(success=True)


@router.post(
    "/api/subscriptions/{subscription_id}/test",
    status_code=202,
    response_model=TestSent,
    responses=errors(404),
    summary="Send a test notification to this subscription (admin)",
)
async def test_subscription(
    subscription_id: int = SubscriptionId,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> TestSent:
    return await service.send_test(conn, subscription_id, actor)


@router.get(
    "/api/subscriptions/{subscription_id}/deliveries",
    response_model=DeliveryPage,
    responses=errors(404),
    summary="Delivery log, newest first, each delivery with its attempts (admin)",
)
async def list_deliveries(
    subscription_id: int = SubscriptionId,
    status: Literal["pending", "delivered", "failed"] | None = None,
    page: int = Query(1, ge=1, le=10_000),
    limit: int = Query(50, ge=1, le=200),
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> DeliveryPage:
    return await service.deliveries(conn, subscription_id, status, page, limit)
