"""Prometheus metrics of one API process (every site: api, status, console), served at GET /metrics to the
addresses of SLAMON_METRICS_ALLOW only (loopback by default). Every series and an example alert are
listed in docs/operations.md, "Metrics".

- request latency by route template (never the raw path, so the label set stays bounded), method and
  status class, measured around load shedding, so the wait for a turn counts and a refused request too;
- requests refused by load shedding (app/load.py), by reason;
- Socket.IO clients connected to this process, database pool connections in use and the pool's bounds;
- the process's CPU, memory and open files (prometheus_client's process collector).

Each app has its own registry (tests build many apps in one process)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ApiError
from app.metrics_slo import SloMetrics

if TYPE_CHECKING:
    from fastapi import FastAPI

# No `<name>_created` series beside every counter and histogram: Prometheus does not use them in this
# format, and they would double the series.
disable_created_metrics()  # type: ignore[no-untyped-call]  # (the library leaves it unannotated)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Answered before or without a route, whatever the path: 404s, load shedding's 503s, 413s for bodies
# declared too large. One label value, so a scan of random paths adds no series.
UNROUTED = "<unrouted>"
NOT_TIMED_PREFIXES = ("/socket.io/",)  # long-polling requests wait by design; sockets have their own gauge
FORWARDING_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")
PEER_KEY = "slamon.peer"  # the TCP peer, recorded before uvicorn's proxy-headers middleware rewrites "client"


class ApiMetrics:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Histogram(
            "slamon_api_request_duration_seconds",
            "HTTP requests handled by this API process, by route template, method and status class: time from "
            "arrival to the end of the answer, the wait for a turn under load included.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.shed = Counter(
            "slamon_api_requests_shed",
            "Requests answered 503 at once by load shedding: queue_full (every slot busy and the queue full) "
            "or wait_timeout (no turn within SLAMON_QUEUE_WAIT_S).",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("queue_full", "wait_timeout"):
            self.shed.labels(reason)  # present at 0 from the start, so rate() sees the first one
        self.registry.register(_StateCollector(app))
        self.slo = SloMetrics()  # slamon_slo_*: the SLOs' figures (app/metrics_slo.py)
        self.registry.register(self.slo)

    def refused(self, reason: str) -> None:
        """LoadShedding's hook (app/load.py)."""
        self.shed.labels(reason).inc()

    def route_of(self, scope: Scope) -> str:
        """The template of the route that answered (`/api/uptime/{service_id}`, `/static/{path}`), else
        UNROUTED. FastAPI leaves its route in scope["route"]; a plain route or mount leaves its endpoint."""
        template = getattr(scope.get("route"), "path_format", None)
        endpoint = scope.get("endpoint")
        if template is None and endpoint is not None:
            for route in self.app.router.routes:
                if getattr(route, "endpoint", None) is endpoint or (isinstance(route, Mount) and route.app is endpoint):
                    template = getattr(route, "path_format", None)
                    break
        return template if isinstance(template, str) and template else UNROUTED

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Gauges read at scrape time from the app's live objects (absent until the lifespan created them)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterable[Metric]:
        hub = getattr(self.app.state, "realtime", None)
        if hub is not None:
            clients = GaugeMetricFamily(
                "slamon_api_socketio_clients", "Socket.IO clients connected to this API process (any transport)."
            )
            clients.add_metric([], len(hub.manager.rooms.get("/", {}).get(None, {})))
            yield clients
        pool = getattr(self.app.state, "pool", None)
        if pool is not None:
            size, idle = pool.get_size(), pool.get_idle_size()
            yield _gauge("slamon_api_db_pool_connections_in_use", "Database connections lent out now.", size - idle)
            yield _gauge("slamon_api_db_pool_connections", "Database connections open now (idle or lent).", size)
            yield _gauge(
                "slamon_api_db_pool_max_connections",
                "Most connections the pool opens (SLAMON_POOL_MAX).",
                pool.get_max_size(),
            )


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text)
    family.add_metric([], value)
    return family


class RequestMetrics:
    """ASGI middleware, the outermost: observes every HTTP request but Socket.IO's into ApiMetrics.requests,
    and records the TCP peer (PEER_KEY) for GET /metrics."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NOT_TIMED_PREFIXES):
            return await self.app(scope, receive, send)
        scope[PEER_KEY] = scope.get("client")
        started = time.perf_counter()
        status = 0

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except BaseException:
            status = status or 500
            raise
        finally:
            if status:
                method = scope["method"] if scope["method"] in METHODS else "other"
                route = self.metrics.route_of(scope)
                self.metrics.requests.labels(route, method, f"{status // 100}xx").observe(time.perf_counter() - started)


def allowed(client: str | None, networks: Iterable[str]) -> bool:
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def reader_address(scope: Scope, trusted_proxies: list[str]) -> str | None:
    """Who asks: the forwarded client when the peer is a trusted proxy (SLAMON_TRUSTED_PROXIES; uvicorn's
    middleware rewrote scope["client"]), else the peer itself; None when the peer is an untrusted proxy
    (it sent a forwarding header), since a reverse proxy on loopback would otherwise make every outside
    client look like a loopback one."""
    peer = scope.get(PEER_KEY) or scope.get("client")
    peer_host = peer[0] if peer else None
    if peer_host is not None and trusted_proxies and allowed(peer_host, trusted_proxies):
        client = scope.get("client")
        return client[0] if client else None
    headers = dict(scope.get("headers") or [])
    if any(name in headers for name in FORWARDING_HEADERS):
        return None
    return peer_host


def router() -> APIRouter:
    routes = APIRouter()

    @routes.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        settings = request.app.state.settings
        if not allowed(reader_address(request.scope, settings.trusted_proxies), settings.metrics_allow):
            raise ApiError(403, "forbidden", "GET /metrics is served to the addresses in SLAMON_METRICS_ALLOW only")
        api_metrics: ApiMetrics = request.app.state.metrics
        pool = getattr(request.app.state, "pool", None)
        if pool is not None:
            await api_metrics.slo.refresh(pool, datetime.now(timezone.utc), settings.timezone)
        return Response(api_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return routes


def install(app: FastAPI) -> ApiMetrics:
    """The app's metrics (app.state.metrics) and GET /metrics; the caller adds RequestMetrics last, so it
    is the outermost middleware (app/main.py)."""
    app.state.metrics = metrics = ApiMetrics(app)
    app.include_router(router())
    return metrics
