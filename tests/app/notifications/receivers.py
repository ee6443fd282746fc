"""A real webhook receiver on loopback: records every request (arrival time, headers, raw body) and
answers from a script (status codes in order, then 200), optionally holding chosen requests open."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from aiohttp import web


@dataclass
class Received:
    at: float
    headers: dict
    body: bytes
    path: str = ""  # with the query string

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers["X-SLAMon-Delivery"]


class Receiver:
    def __init__(self, statuses: list[int] | None = None, hold=None, body: bytes = b"ok", headers: dict | None = None):
        self.statuses = list(statuses or [])
        self.hold = hold  # predicate(Received) -> bool: keep that request open (until the client goes away)
        self.body, self.extra_headers = body, headers or {}
        self.requests: list[Received] = []
        self.arrived = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(time.monotonic(), dict(request.headers), await request.read(), request.path_qs)
        self.requests.append(received)
        self.arrived.set()
        if self.hold is not None and self.hold(received):
            await asyncio.sleep(3600)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, body=self.body, headers=self.extra_headers)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Until at least `count` requests arrived (the timeout only stops a broken test from hanging)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"receiver got {len(self.requests)} of {count} requests"
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), 0.2)
            except TimeoutError:
                pass
        return self.requests

    def unique_by_delivery(self) -> dict[str, Received]:
        """What a receiver that de-duplicates on X-SLAMon-Delivery processes: the first of each id."""
        seen: dict[str, Received] = {}
        for r in self.requests:
            seen.setdefault(r.delivery_id, r)
        return seen
