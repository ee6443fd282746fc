"""Health endpoints: liveness (the process answers) apart from readiness (it can serve: database and
Redis reachable), for orchestrators that restart on the one and route traffic on the other."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.contract import errors
from app.errors import unavailable
from app.health import service
from app.health.models import Healthy, Ready

router = APIRouter(tags=["status"])


@router.get(
    "/api/health",
    response_model=Healthy,
    responses=errors(503),
    summary="The API answers and reaches the database (503 with Retry-After when not)",
)
async def health(request: Request) -> Healthy:
    async with request.app.state.pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
    return Healthy(status="ok")


@router.get(
    "/api/health/live",
    response_model=Healthy,
    summary="Liveness: 200 while the process runs, whatever its dependencies",
)
async def live() -> Healthy:
    return Healthy(status="ok")


@router.get(
    "/api/health/ready",
    response_model=Ready,
    responses=errors(
        503,
        e503={
            "error": "service_unavailable",
            "message": "not ready: redis unreachable",
            "details": [
                {"in": None, "field": "database", "message": "ok"},
                {"in": None, "field": "redis", "message": "connection refused"},
            ],
        },
    ),
    summary="Readiness: 200 when the database and Redis answer, else 503 naming which",
)
async def ready(request: Request) -> Ready | JSONResponse:
    database, redis = await asyncio.gather(
        service.database_error(request.app.state.pool), service.redis_error(request.app.state.settings.redis_url)
    )
    if database or redis:
        checks = {"database": database or "ok", "redis": redis or "ok"}
        down = ", ".join(name for name, error in (("database", database), ("redis", redis)) if error)
        return unavailable(
            f"not ready: {down} unreachable",
            [{"in": None, "field": name, "message": state} for name, state in checks.items()],
        )
    return Ready(status="ok", database="ok", redis="ok")
