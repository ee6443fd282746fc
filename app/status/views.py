"""Public status: GET /api/system-status."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from app import deps
from app.status import service
from app.status.models import SystemStatus

router = APIRouter(tags=["status"])


@router.get(
    "/api/system-status",
    response_model=SystemStatus,
    summary="Overall and per-service status with 90-day uptime and grid",
)
async def system_status(
    request: Request, conn=Depends(deps.connection), settings=Depends(deps.settings), now=Depends(deps.clock)
):
    # Plain JSON types only: encoded directly, without jsonable_encoder's walk over 4,500 grid letters
    # (a Response is sent as it is: SystemStatus documents it; tests/app/test_api_contract.py checks it).
    return JSONResponse(
        await service.system_status(conn, now, settings.timezone, settings.zone, request.app.state.pool)
    )
