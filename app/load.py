"""Load shedding: at most `max_concurrent` requests are handled at once and at most `max_queued` wait
for a turn, each for at most `queue_wait_s`; any other request gets 503 with Retry-After at once. Under
400 concurrent clients the status page answered in 3.2 s (p50) to 15.9 s (p99): a client is better
served by a fast "try again" than by a hang. Health checks and Socket.IO (long-polling requests wait by
design; sockets are counted by the realtime hub) and GET /metrics (a scrape must see an overload) are not
counted, nor the paths named `exempt_paths`: reads served from memory whose cost does not grow with the
number of readers (the status reads, app/status/cache.py). Each refusal is reported to `on_refused` with
its reason (app/metrics.py counts them)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT_PREFIXES = ("/api/health", "/socket.io/", "/metrics")
RETRY_AFTER_S = 1


class LoadShedding:
    """ASGI middleware; the semaphore is made on the first request, in the server's event loop."""

    def __init__(
        self,
        app: ASGIApp,
        max_concurrent: int,
        max_queued: int,
        queue_wait_s: float,
        on_refused: Callable[[str], None] | None = None,
        exempt_paths: tuple[str, ...] = (),
    ) -> None:
        self.app, self.max_concurrent, self.max_queued, self.queue_wait_s = (
            app,
            max_concurrent,
            max_queued,
            queue_wait_s,
        )
        self.on_refused = on_refused
        self.exempt_paths = frozenset(exempt_paths)
        self.queued = 0
        self._slots: asyncio.Semaphore | None = None

    async def _refuse(self, send: Send, reason: str) -> None:
        body = json.dumps(
            {"error": "overloaded", "message": f"the server is busy ({reason}); try again in {RETRY_AFTER_S} s"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(RETRY_AFTER_S).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _admitted(self, slots: asyncio.Semaphore) -> tuple[str, str] | None:
        """None once a slot is held, else why not: (queue_full | wait_timeout, the message)."""
        if not slots.locked():
            await slots.acquire()
            return None
        if self.queued >= self.max_queued:
            return "queue_full", f"{self.max_concurrent} requests in progress and {self.max_queued} waiting"
        self.queued += 1
        acquire = asyncio.ensure_future(slots.acquire())
        try:
            # asyncio.wait, not wait_for: a slot granted as the time runs out must not be lost
            await asyncio.wait({acquire}, timeout=self.queue_wait_s)
        except BaseException:  # the request itself was cancelled while waiting
            if not acquire.cancel() and not acquire.cancelled():
                slots.release()  # granted just before: give it back
            raise
        finally:
            self.queued -= 1
        if acquire.done():
            return None
        acquire.cancel()
        try:
            await acquire
        except asyncio.CancelledError:
            return "wait_timeout", f"no turn within {self.queue_wait_s:g} s"
        return None  # granted before the cancel took effect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES) or scope["path"] in self.exempt_paths:
            return await self.app(scope, receive, send)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        slots = self._slots
        refusal = await self._admitted(slots)
        if refusal is not None:
            if self.on_refused is not None:
                self.on_refused(refusal[0])
            return await self._refuse(send, refusal[1])
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()
