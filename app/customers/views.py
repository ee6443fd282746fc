"""Customers over REST, admin only (docs/api.md, Customers): CRUD of contracts, their target overrides,
and their monthly statements (app/customers/statements.py). Every write is audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Response

from app import deps
from app.auth.deps import current_user, require
from app.customers import service
from app.customers.models import CustomerConfig, OverrideCreate

admin_router = APIRouter(tags=["customers"], dependencies=[Depends(current_user)])
CustomerIdPath = Path(max_length=50)


@admin_router.get("/api/customers", summary="Every customer with its contract (admin)")
async def list_customers(actor=Depends(require("customers:read")), conn=Depends(deps.connection)):
    return {"customers": await service.list_customers(conn)}


@admin_router.post(
    "/api/customers",
    status_code=201,
    summary="Add a customer (admin): tier, monthly fee and ISO 4217 currency, covered services; 409 when "
    "the id is taken",
)
async def create_customer(
    body: CustomerConfig, actor=Depends(require("customers:write")), conn=Depends(deps.connection)
):
    return {"customer": await service.create(conn, body, actor)}


@admin_router.get("/api/customers/{customer_id}", summary="A customer's contract and target overrides (admin)")
async def get_customer(
    customer_id: str = CustomerIdPath, actor=Depends(require("customers:read")), conn=Depends(deps.connection)
):
    return {
        "customer": service.to_read(await service.get(conn, customer_id)),
        "overrides": await service.overrides(conn, customer_id),
    }


@admin_router.put(
    "/api/customers/{customer_id}",
    summary="Replace a customer's contract (admin); 409 for a customer of customers.toml (change the file)",
)
async def update_customer(
    body: CustomerConfig,
    customer_id: str = CustomerIdPath,
    actor=Depends(require("customers:write")),
    conn=Depends(deps.connection),
):
    return {"customer": await service.update(conn, customer_id, body, actor)}


@admin_router.delete(
    "/api/customers/{customer_id}",
    status_code=204,
    summary="Remove a customer the API created (admin); its frozen statements stay",
)
async def delete_customer(
    customer_id: str = CustomerIdPath, actor=Depends(require("customers:write")), conn=Depends(deps.connection)
):
    await service.delete(conn, customer_id, actor)
    return Response(status_code=204)


@admin_router.post(
    "/api/customers/{customer_id}/overrides",
    status_code=201,
    summary="Announce a temporary availability target for the contract (admin); it counts only when "
    "announced at least the maintenance notice period (default 72 h) before it starts",
)
async def add_override(
    body: OverrideCreate,
    customer_id: str = CustomerIdPath,
    actor=Depends(require("customers:write")),
    conn=Depends(deps.connection),
    settings=Depends(deps.settings),
    now=Depends(deps.clock),
):
    return {"override": await service.add_override(conn, customer_id, body, actor, now, settings.maintenance_notice)}


@admin_router.delete(
    "/api/customers/{customer_id}/overrides/{override_id}", status_code=204, summary="Withdraw an override (admin)"
)
async def delete_override(
    customer_id: str = CustomerIdPath,
    override_id: int = Path(ge=1, le=2**62),
    actor=Depends(require("customers:write")),
    conn=Depends(deps.connection),
):
    await service.delete_override(conn, customer_id, override_id, actor)
    return Response(status_code=204)
