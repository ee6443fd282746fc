"""The prober's own HTTP endpoint: GET /healthz (200 only when connected and assigned) and GET /metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from prober.runner import Prober


def build_app(prober: "Prober") -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        healthy, body = prober.health()
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            text=prober.metrics.render(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Prometheus-Format": "0.0.4"},
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(prober: "Prober", host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(build_app(prober), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
