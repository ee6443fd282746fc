"""Public catalog: GET /api/services."""
from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Depends

from app import deps
from app.errors import not_found
from app.services import service

router = APIRouter(tags=["status"])


async def require_service(conn: asyncpg.Connection, service_id: str):
    row = await service.get(conn, service_id)
    if row is None:
        raise not_found("service", service_id)
    return row


@router.get("/api/services", summary="Monitored services, with the 'All Systems' entry first")
async def list_services(conn=Depends(deps.connection)):
    rows = await service.list_active(conn)
    certificates = await service.certificate_expiries(conn)
    return {"services": [{"id": "all-systems", "name": "All Systems"}]
            + [{"id": r["id"], "name": r["name"], "description": r["description"], "tier": r["tier"],
                "certificateExpiresAt": certificates.get(r["id"])} for r in rows]}
