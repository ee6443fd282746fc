"""The API process: FastAPI app with the REST routers, Socket.IO beside it (/socket.io/), and the
request-size limit. Routers are grouped by who may call them: public reads, ingest (per-service ingest
keys), and everything else, authenticated by default (app.auth.deps)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import contract, errors, metrics, realtime
from app.audit.views import router as audit_router
from app.auth import passwords
from app.auth.views import router as auth_router
from app.config import Settings, get_settings
from app.customers.views import admin_router as customers_admin_router
from app.customers.views import public_router as customers_public_router
from app.db import create_pool
from app.escalation.callbacks import router as escalation_callbacks_router
from app.escalation.pages import router as escalation_pages_router
from app.escalation.views import router as escalation_router
from app.feeds.views import router as feeds_router
from app.health.views import router as health_router
from app.incidents.service import IncidentConflict
from app.incidents.views import router as incidents_router
from app.incidents.views import staff_router as incidents_staff_router
from app.ingest.views import router as ingest_router
from app.load import LoadShedding
from app.maintenance.views import admin_router as maintenance_admin_router
from app.maintenance.views import router as maintenance_router
from app.notifications.views import router as notifications_router
from app.oncall.views import feed_router as oncall_feed_router
from app.oncall.views import router as oncall_router
from app.otlp.views import router as otlp_router
from app.reports import pdf
from app.reports.pages import router as reports_pages_router
from app.reports.views import admin_router as reports_admin_router
from app.reports.views import router as reports_router
from app.services.views import router as services_router
from app.sla.views import router as sla_router
from app.slo.definitions.admin import router as slo_definitions_admin_router
from app.slo.definitions.forecast_views import router as slo_definition_forecast_router
from app.slo.definitions.views import router as slo_definitions_router
from app.slo.forecast_views import router as slo_forecast_router
from app.slo.views import router as slo_router
from app.status.views import router as status_router
from app.subscribers.pages import router as subscribers_pages_router
from app.subscribers.views import router as subscribers_router
from app.trends.pages import router as trends_pages_router
from app.trends.views import router as trends_router
from app.uptime.views import router as uptime_router
from app.users.views import router as users_router
from app.web import sites

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 1024 * 1024  # JSON writes; ingest batches have their own limit (settings.max_body_bytes)
PUBLIC_READ_ROUTERS = (
    status_router,
    services_router,
    uptime_router,
    incidents_router,
    sla_router,
    maintenance_router,
    feeds_router,
    reports_router,
    trends_router,
    reports_pages_router,
    trends_pages_router,
    slo_router,
    slo_definitions_router,
    slo_forecast_router,
    slo_definition_forecast_router,
    customers_public_router,
)
AUTHENTICATED_ROUTERS = (
    auth_router,
    incidents_staff_router,
    users_router,
    audit_router,
    maintenance_admin_router,
    notifications_router,
    reports_admin_router,
    customers_admin_router,
    escalation_router,
    oncall_router,
    slo_definitions_admin_router,
)


class BodySizeLimit:
    """413 for a request body over the limit: refused from Content-Length up front, or counted while
    streaming (chunked bodies) and the app's answer replaced, so nothing over the limit is parsed."""

    def __init__(self, app: ASGIApp, limit: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app, self.limit, self.exempt = app, limit, exempt_prefixes

    async def _refuse(self, send: Send) -> None:
        body = b'{"error":"payload_too_large","message":"request body over %d bytes"}' % self.limit
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        state = {"received": 0, "too_large": False, "refused": False}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.limit:
                    state["too_large"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if state["too_large"]:
                if not state["refused"]:
                    state["refused"] = True
                    await self._refuse(send)
                return
            await send(message)

        await self.app(scope, counting_receive, guarded_send)
        if state["too_large"] and not state["refused"]:
            await self._refuse(send)


def create_app(settings: Settings | None = None, site: str = "api") -> FastAPI:
    """The API on every site; `site` adds its pages at / (app.web.sites: api, status, console)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await _create_pool(settings)
        try:
            yield
        finally:
            await app.state.realtime.close()
            await pdf.shutdown()
            await app.state.pool.close()

    # /docs and /redoc come from vendored copies, on the API site only (app.web.docs via sites.install)
    app = FastAPI(
        title="SLA Monitor",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Status, uptime, incidents and exact SLA figures (see docs/sla-math.md).",
    )
    app.state.settings = settings
    passwords.configure(settings.password_hash_workers, settings.password_hash_queue)
    errors.install(app)

    @app.exception_handler(IncidentConflict)
    async def _conflict(request: Request, exc: IncidentConflict) -> JSONResponse:
        return JSONResponse(
            {"error": exc.error, "message": exc.message, "current": exc.current.to_public()}, status_code=409
        )

    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    @app.exception_handler(asyncpg.UntranslatableCharacterError)
    async def _unstorable_text(request: Request, exc: asyncpg.PostgresError) -> JSONResponse:
        # PostgreSQL text cannot hold NUL (U+0000): the input is refused, whichever field carried it.
        return JSONResponse(
            {"error": "validation_error", "message": "text must not contain NUL (U+0000) characters"}, status_code=422
        )

    for router in (
        health_router,
        *PUBLIC_READ_ROUTERS,
        ingest_router,
        otlp_router,  # POST /v1/traces: OTLP/HTTP, authenticated by the ingest key as ingest_router
        subscribers_router,  # public writes: no account, the signed link is the credential
        oncall_feed_router,  # the calendar feed: its URL's token is the credential
        escalation_callbacks_router,  # the paging services: their signature or token is the credential
        *AUTHENTICATED_ROUTERS,
        realtime.replay_router(),
    ):
        app.include_router(router)

    # The pages of a public subscriber's links, on every site: public_base_url may name any of them.
    app.include_router(subscribers_pages_router, include_in_schema=False)
    app.include_router(escalation_pages_router, include_in_schema=False)  # an email's acknowledgement link
    contract.install(app)
    api_metrics = metrics.install(app)  # GET /metrics (app/metrics.py)
    sites.install(app, site)
    realtime.mount(app, settings)
    app.add_middleware(BodySizeLimit, limit=MAX_REQUEST_BYTES, exempt_prefixes=("/api/ingest/", "/v1/", "/socket.io/"))
    app.add_middleware(
        LoadShedding,
        max_concurrent=settings.max_concurrent_requests,
        max_queued=settings.max_queued_requests,
        queue_wait_s=settings.queue_wait_s,
        on_refused=api_metrics.refused,
        # served from memory, one build per change whatever the readers (app/status/cache.py)
        exempt_paths=("/api/system-status", *(("/",) if site == "status" else ())),
    )
    if settings.trusted_proxies:  # every layer below sees the client the proxy reported
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # outermost: times every request, a refused one too, and records the TCP peer for GET /metrics
    app.add_middleware(metrics.RequestMetrics, metrics=api_metrics)
    return app


async def _create_pool(settings: Settings) -> asyncpg.Pool:
    """The pool; with the database down at start, an empty one that connects on first use, so that the
    process starts, answers liveness, and serves 503s until the database is back."""
    try:
        return await create_pool(settings)
    except errors.DB_UNAVAILABLE as exc:
        log.warning("database unreachable at start (%r); serving 503 until it is back", exc)
        return await create_pool(settings, min_size=0)
