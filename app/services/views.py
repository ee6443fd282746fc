"""The service catalog over REST: GET /api/services (public); POST /api/services, GET and DELETE
/api/services/{id} (admin, authenticated by default through `admin_router`). PUT /api/services/{id}
lives with the other runtime settings in app/maintenance."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Depends, Path

from app import deps
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.contract import errors
from app.errors import not_found
from app.services import service
from app.services.models import ServiceConfig, ServiceList, ServiceListed, ServiceOne

router = APIRouter(tags=["status"])
admin_router = APIRouter(tags=["services"], dependencies=[Depends(current_user)])
ServiceIdPath = Path(max_length=50)

_ID = {"service_id": "$response.body#/service/id"}
# OpenAPI links: what a client (and the stateful schemathesis test) can do next with a new service:
# manage it, and read its (empty, then growing) figures.
SERVICE_LINKS = {
    name: {"operationRef": "#/paths/" + path.replace("/", "~1") + "/" + method, "parameters": _ID}
    for name, method, path in (
        ("GetService", "get", "/api/services/{service_id}"),
        ("EditService", "put", "/api/services/{service_id}"),
        ("ArchiveService", "delete", "/api/services/{service_id}"),
        ("GetUptime", "get", "/api/uptime/{service_id}"),
        ("GetAvailability", "get", "/api/sla/availability/{service_id}"),
        ("GetResponseTimes", "get", "/api/sla/response-times/{service_id}"),
        ("GetUsage", "get", "/api/sla/usage/{service_id}"),
        ("GetSlo", "get", "/api/slo/{service_id}"),
        ("GetUsageTrends", "get", "/api/usage/trends/{service_id}"),
    )
}


async def require_service(conn: asyncpg.Connection, service_id: str) -> asyncpg.Record:
    row = await service.get(conn, service_id)
    if row is None:
        raise not_found("service", service_id)
    return row


@router.get(
    "/api/services",
    response_model=ServiceList,
    response_model_exclude_unset=True,
    summary="Monitored services, with the 'All Systems' entry first",
)
async def list_services(conn: asyncpg.Connection = Depends(deps.connection)) -> ServiceList:
    rows = await service.list_active(conn)
    certificates = await service.certificate_expiries(conn)
    return ServiceList(
        services=[ServiceListed(id="all-systems", name="All Systems")]
        + [
            ServiceListed(
                id=r["id"],
                name=r["name"],
                description=r["description"],
                tier=r["tier"],
                certificate_expires_at=certificates.get(r["id"]),
            )
            for r in rows
        ]
    )


@admin_router.post(
    "/api/services",
    status_code=201,
    response_model=ServiceOne,
    responses={
        201: {"links": SERVICE_LINKS},
        **errors(409, e409={"error": "conflict", "message": "service id 'face-compare' is taken"}),
    },
    summary="Add a service to monitor (admin); 409 when the id is taken, archived services included",
)
async def create_service(
    body: ServiceConfig,
    actor: Principal = Depends(require("services:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> ServiceOne:
    return ServiceOne(service=await service.create(conn, body, actor))


@admin_router.get(
    "/api/services/{service_id}",
    response_model=ServiceOne,
    responses=errors(404),
    summary="A service's whole configuration, archived or not (admin)",
)
async def get_service(
    service_id: str = ServiceIdPath,
    actor: Principal = Depends(require("services:read")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> ServiceOne:
    return ServiceOne(service=service.to_config_read(await require_service(conn, service_id)))


@admin_router.delete(
    "/api/services/{service_id}",
    response_model=ServiceOne,
    responses=errors(404, 409),
    summary="Archive a service the API created (admin): no longer probed nor listed; its history, "
    "incidents and SLA figures stay",
)
async def archive_service(
    service_id: str = ServiceIdPath,
    actor: Principal = Depends(require("services:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> ServiceOne:
    return ServiceOne(service=await service.archive(conn, service_id, actor))


# Included last: a router copies the routes it includes when it includes them.
router.include_router(admin_router)
