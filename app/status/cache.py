"""GET /api/system-status and the status page, built once per change and served from memory.

A status read depends on what is stored (checks, incidents and their updates, maintenance windows,
services, rewritten rollups) and on the time (a new day, a window starting, a slot ageing out). Every
stored input moves a generation number in its writing transaction (sql/060_data_generations.sql,
sql/175_status_generations.sql), so each request reads those numbers (one small statement, as cheap
as the health check's) and serves the body built for them, if it was built less than FRESH_S ago;
otherwise one request builds it again and the others arriving meanwhile wait for that build. So:

- a write is in the very next response of every API process (the numbers are read from the
  database every time, never pushed), and time alone shows within FRESH_S;
- whatever the number of concurrent readers, a change costs one build per process and variant;
- the body carries a strong ETag (a digest of its bytes): `If-None-Match` gets 304, and
  `Cache-Control` lets browsers, reverse proxies and CDNs keep it a few seconds
  (docs/operations.md, "Scaling", says why these values).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from starlette.responses import Response

from app.status import queries

FRESH_S = 1.0  # a body is served this long at most, so what time alone changes shows within it
MAX_VARIANTS = 32  # bodies kept per cache (page number x language x query); the oldest goes first
# Short enough that a reader behind a cache never misses a change by more than a few seconds (the
# worker's live status looks at what time alone changes every 5 s); long enough that a CDN or
# reverse proxy asks this process at most once per 5 s per copy, however many readers it serves.
CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=25, stale-if-error=300"


async def version(pool: asyncpg.Pool) -> tuple[int, ...]:
    """The generation numbers of everything stored that a status read depends on."""
    async with pool.acquire() as conn:
        return tuple(await conn.fetchval(queries.STATUS_VERSION))


@dataclass(frozen=True)
class Body:
    """One built response: its bytes, their strong ETag, and what it was built from."""

    content: bytes
    etag: str
    version: tuple[int, ...]
    built_at: datetime
    extra: Any = None  # what the builder returned beside the bytes (the page's data)

    def fresh(self, stored: tuple[int, ...], now: datetime) -> bool:
        return self.version == stored and self.built_at <= now < self.built_at + timedelta(seconds=FRESH_S)


def strong_etag(content: bytes) -> str:
    return '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match against our ETag (weak comparison, as RFC 9110 §13.1.2 asks)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


Builder = Callable[[], Awaitable[tuple[bytes, Any]]]


@dataclass
class ResponseCache:
    """Bodies per variant key, each with the version and time it was built for; one build at a time
    per (key, version)."""

    max_variants: int = MAX_VARIANTS
    _bodies: OrderedDict[Hashable, Body] = field(default_factory=OrderedDict)
    _building: dict[tuple[Hashable, tuple[int, ...]], tuple[datetime, asyncio.Task[Body]]] = field(default_factory=dict)
    builds: int = 0

    def last(self, key: Hashable) -> Body | None:
        return self._bodies.get(key)

    async def get(self, key: Hashable, stored: tuple[int, ...], now: datetime, build: Builder) -> Body:
        """The body of `key` for the stored `version` at `now`: kept, being built, or built now."""
        body = self._bodies.get(key)
        if body is not None and body.fresh(stored, now):
            self._bodies.move_to_end(key)
            return body
        started, running = self._building.get((key, stored), (None, None))
        # a build started for another reader's `now` serves this one too while within FRESH_S of it
        if started is None or running is None or not started <= now < started + timedelta(seconds=FRESH_S):
            running = asyncio.create_task(self._build(key, stored, now, build), name="status-build")
            self._building[(key, stored)] = (now, running)
        # shielded: a reader that goes away does not cancel the build the others wait for
        return await asyncio.shield(running)

    async def _build(self, key: Hashable, stored: tuple[int, ...], now: datetime, build: Builder) -> Body:
        try:
            content, extra = await build()
            body = Body(content, strong_etag(content), stored, now, extra)
            self.builds += 1
            kept = self._bodies.get(key)
            if kept is None or kept.built_at <= now:  # an older build finishing late never replaces a newer one
                self._bodies[key] = body
                self._bodies.move_to_end(key)
                while len(self._bodies) > self.max_variants:
                    self._bodies.popitem(last=False)
            return body
        finally:
            if self._building.get((key, stored), (None, None))[1] is asyncio.current_task():
                del self._building[(key, stored)]


def of(state: Any, name: str) -> ResponseCache:
    """The app's cache called `name` (one per process: app.state)."""
    caches: dict[str, ResponseCache] | None = getattr(state, "status_caches", None)
    if caches is None:
        caches = state.status_caches = {}
    return caches.setdefault(name, ResponseCache())


def respond(
    body: Body, if_none_match: str | None, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    """200 with the body, or 304 when the client holds it already; both with ETag and Cache-Control."""
    sent = {"ETag": body.etag, "Cache-Control": CACHE_CONTROL, **(headers or {})}
    if etag_matches(if_none_match, body.etag):
        return Response(status_code=304, headers=sent)
    return Response(body.content, media_type=media_type, headers=sent)
