"""Public incident reads: GET /api/incidents, /api/incidents/past, /api/incidents/{id}."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from app import deps
from app.errors import not_found
from app.incidents import service

router = APIRouter(tags=["incidents"])


@router.get("/api/incidents", summary="Open incidents with their update timelines")
async def list_incidents(conn=Depends(deps.connection)):
    return {"incidents": await service.list_active(conn)}


@router.get("/api/incidents/past", summary="Incidents by day, newest day first")
async def past_incidents(
    days: int = Query(30, ge=1, le=366), page: int = Query(1, ge=1, le=366), limit: int = Query(10, ge=1, le=100),
    conn=Depends(deps.connection), settings=Depends(deps.settings), now=Depends(deps.clock),
):
    return await service.past(conn, days, page, limit, now, settings.zone)


@router.get("/api/incidents/{incident_id}", summary="One incident with its timeline")
async def get_incident(incident_id: str, conn=Depends(deps.connection)):
    incident = await service.get(conn, incident_id)
    if incident is None:
        raise not_found("incident", incident_id)
    return {"incident": incident}
