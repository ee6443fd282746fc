"""`slamon targets`: the PRD's five Verify services on loopback, with realistic latency and scripted faults.

GET /<service-id>/health answers like a real dependency: log-normal latency around each service's
median, and on a deterministic two-hour cycle (shifted per service) a slow spell (> 7 s), a very
slow spell (> 15 s), an outage answering 503, a spell refusing requests (connection closed), and a
flapping spell. POST /<service-id>/control {"mode": "ok|slow|very_slow|down|refuse|flap", "seconds": N}
forces a mode now (tests, demos); GET /<service-id>/control shows the current one. The demo's paging
receivers answer under /_receivers/ (app/demo/receivers.py).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from app.demo.receivers import Receivers

# service id -> (median latency ms, log-normal sigma)
PROFILES = {
    "id-recognition": (420, 0.35),
    "face-liveness": (650, 0.30),
    "id-liveness": (380, 0.35),
    "face-compare": (800, 0.25),
    "curp-verifier": (150, 0.45),
}
SERVICE_IDS = tuple(PROFILES)
MODES = ("ok", "slow", "very_slow", "down", "refuse", "flap")
CYCLE_S = 2 * 3600
# (start, end, mode) within the cycle, before the per-service shift
SCRIPT = (
    (900, 1080, "slow"),  # 3 min of 7-12 s answers: P3 material
    (2400, 2580, "very_slow"),  # 3 min of 15-20 s answers: P2 material
    (3900, 4140, "down"),  # 4 min of 503: P1 material
    (4140, 4260, "refuse"),  # 2 min of dropped connections
    (5400, 5700, "flap"),  # 5 min alternating good and 503
)


def scripted_mode(service_id: str, now: float) -> str:
    """The mode the deterministic script gives a service at `now`."""
    shift = SERVICE_IDS.index(service_id) * 1380 if service_id in PROFILES else 0
    position = (now - shift) % CYCLE_S
    for start, end, mode in SCRIPT:
        if start <= position < end:
            return mode
    return "ok"


def latency_s(service_id: str, mode: str, rng: random.Random) -> float:
    median_ms, sigma = PROFILES[service_id]
    if mode == "slow":
        return rng.uniform(7.5, 12.0)
    if mode == "very_slow":
        return rng.uniform(15.5, 20.0)
    return min(median_ms * math.exp(rng.gauss(0, sigma)), 6000) / 1000


@dataclass
class Override:
    mode: str
    until: float


class DemoTargets:
    def __init__(self, clock: Callable[[], float] = time.time, speed: float = 1.0) -> None:
        self.clock = clock
        self.speed = speed  # < 1 shortens every delay (tests)
        self.overrides: dict[str, Override] = {}
        self.requests: dict[str, int] = {s: 0 for s in SERVICE_IDS}
        self.receivers = Receivers()

    def mode(self, service_id: str) -> str:
        override = self.overrides.get(service_id)
        if override and override.until > self.clock():
            return override.mode
        return scripted_mode(service_id, self.clock())

    async def health(self, request: web.Request) -> web.StreamResponse:
        service_id = request.match_info["service_id"]
        if service_id not in PROFILES:
            raise web.HTTPNotFound(text=f"unknown service {service_id!r}")
        count = self.requests[service_id] = self.requests[service_id] + 1
        mode = self.mode(service_id)
        rng = random.Random(f"{service_id}:{int(self.clock())}:{count}")
        if mode == "flap":
            mode = "ok" if count % 2 else "down"
        if mode == "refuse":
            request.transport.abort() if request.transport else None
            raise ConnectionResetError("refusing (scripted)")
        await asyncio.sleep(latency_s(service_id, mode, rng) * self.speed)
        if mode == "down":
            return web.json_response({"status": "unavailable", "service": service_id}, status=503)
        return web.json_response({"status": "ok", "service": service_id, "mode": mode})

    async def control(self, request: web.Request) -> web.Response:
        service_id = request.match_info["service_id"]
        if service_id not in PROFILES:
            raise web.HTTPNotFound(text=f"unknown service {service_id!r}")
        if request.method == "GET":
            return web.json_response({"service": service_id, "mode": self.mode(service_id)})
        try:
            body = await request.json()
            mode, seconds = body["mode"], float(body.get("seconds", 60))
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": 'expected {"mode": ..., "seconds": N}'}, status=400)
        if mode not in MODES or not 0 <= seconds <= 86_400:
            return web.json_response({"error": f"mode must be one of {list(MODES)}, seconds 0..86400"}, status=400)
        self.overrides[service_id] = Override(mode, self.clock() + seconds)
        return web.json_response({"service": service_id, "mode": mode, "seconds": seconds})

    def app(self) -> web.Application:
        app = web.Application()
        self.receivers.add_routes(app)  # the demo's paging receivers (app/demo/receivers.py)
        app.router.add_get("/{service_id}/health", self.health)
        app.router.add_route("*", "/{service_id}/control", self.control)
        return app


async def serve(host: str = "127.0.0.1", port: int = 3100, targets: DemoTargets | None = None) -> web.AppRunner:
    runner = web.AppRunner((targets or DemoTargets()).app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
