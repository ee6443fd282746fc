"""Public status: GET /api/system-status."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from app import deps
from app.config import Settings
from app.status import cache, service
from app.status.models import SystemStatus

router = APIRouter(tags=["status"])


@router.get(
    "/api/system-status",
    response_model=SystemStatus,
    summary="Overall and per-service status with 90-day uptime and grid",
)
async def system_status(
    request: Request, settings: Settings = Depends(deps.settings), now: datetime = Depends(deps.clock)
) -> Response:
    """Built once per change and served from memory (app/status/cache.py): ETag, If-None-Match → 304.
    The Response is sent as it is: SystemStatus documents it; tests/app/test_api_contract.py checks it."""
    pool = request.app.state.pool
    bodies = cache.of(request.app.state, "system-status")

    async def build() -> tuple[bytes, dict[str, object]]:
        async with pool.acquire() as conn:
            status = await service.system_status(conn, now, settings.timezone, settings.zone, pool)
        figures = {k: v for k, v in status.items() if k != "lastUpdated"}
        kept = bodies.last(None)
        if kept is not None and kept.extra == figures and kept.built_at <= now:
            # The same figures: the same bytes and ETag (a client's copy stays valid); lastUpdated
            # says since when they hold.
            return kept.content, figures
        # Plain JSON types only: encoded directly, without jsonable_encoder's walk over 4,500 grid letters.
        return bytes(JSONResponse(status).body), figures  # bytes already: the same object

    body = await bodies.get(None, await cache.version(request.app.state), now, build)
    return cache.respond(body, request.headers, "application/json")
