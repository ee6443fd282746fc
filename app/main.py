"""The API process: FastAPI app with the REST routers (and, beside it, realtime and pages)."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import errors
from app.config import Settings, get_settings
from app.db import create_pool
from app.incidents.views import router as incidents_router
from app.ingest.views import router as ingest_router
from app.services.views import router as services_router
from app.sla.views import router as sla_router
from app.status.views import router as status_router
from app.uptime.views import router as uptime_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = await create_pool(settings)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(title="SLA Monitor", version="0.1.0", lifespan=lifespan,
                  description="Status, uptime, incidents and exact SLA figures (see SLA-MATH.md).")
    app.state.settings = settings
    errors.install(app)
    for router in (status_router, services_router, uptime_router, incidents_router, sla_router, ingest_router):
        app.include_router(router)

    @app.get("/api/health", tags=["status"], summary="Liveness: the API answers and reaches the database")
    async def health():
        async with app.state.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        return {"status": "ok"}

    return app
