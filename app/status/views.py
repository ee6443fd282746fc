"""Public status: GET /api/system-status."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.types import Scope

from app import deps
from app.config import Settings
from app.status import cache, service
from app.status.models import SystemStatus

router = APIRouter(tags=["status"])
SERVED = cache.Served("system-status", None, "application/json")


def from_memory(scope: Scope, headers: Headers) -> cache.Served:
    """Where the body of a GET /api/system-status is kept (cache.FromMemory answers it from there
    when current): one variant, whatever the query (the route takes no parameters)."""
    return SERVED


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
    bodies = cache.of(request.app.state, SERVED.cache)

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

    body = await bodies.get(SERVED.key, await cache.version_of(request), now, build)
    return cache.respond(body, request.headers, SERVED.media_type)
