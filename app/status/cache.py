"""GET /api/system-status and the status page, built once per change and served from memory.

A status read depends on what is stored (checks, incidents and their updates, maintenance windows,
services, rewritten rollups) and on the time (a new day, a window starting, a slot ageing out). Every
stored input moves a generation number in its writing transaction (sql/060_data_generations.sql,
sql/175_status_generations.sql), so each request reads those numbers (one small statement shared by
the requests arriving together: Versions) and serves the body built for them, if it was built less
than FRESH_S ago; otherwise one request builds it again and the others arriving meanwhile wait for
that build (or, when only time moved, get the body of a moment ago while it runs). So:

- a write is in the very next response of every API process (the numbers are read from the
  database for every request, never pushed), and time alone shows within about FRESH_S;
- whatever the number of concurrent readers, a change costs one build per process and variant;
- the body carries a strong ETag (a digest of its bytes): `If-None-Match` gets 304, and
  `Cache-Control` lets browsers, reverse proxies and CDNs keep it a few seconds
  (docs/operations.md, "Scaling", says why these values);
- a request whose body is current in memory is answered ahead of routing (FromMemory): the same
  version read, the same body and headers, without FastAPI's routing, dependencies and Request
  objects, which were most of what such a request cost (benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app import deps
from app.status import queries

FRESH_S = 1.0  # a body is built again after this long, so what time alone changes shows within it
# ... and served while that build runs, if nothing stored changed, until it is this old
STALE_BY_TIME = timedelta(seconds=3 * FRESH_S)
MAX_READS = 4  # version reads in flight at once per process (each holds a pooled connection meanwhile)
MAX_VARIANTS = 32  # bodies kept per cache (page number x language x query); the oldest goes first
# Short enough that a reader behind a cache never misses a change by more than a few seconds (the
# worker's live status looks at what time alone changes every 5 s); long enough that a CDN or
# reverse proxy asks this process at most once per 5 s per copy, however many readers it serves.
CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=25, stale-if-error=300"


class Versions:
    """The generation numbers of everything stored that a status read depends on, read for many
    requests at once: a request waits for the next read that starts after it arrived (so it sees
    every write committed before it), and every request arriving meanwhile shares that read. Under
    400 concurrent readers that is one small statement per database round trip, not one per request
    queueing for the pool ahead of the builds.

    Up to MAX_READS reads are in flight at once: a request arriving while one runs has the next start
    at once instead of waiting for it to finish (with one at a time it waited ~1.5 round trips, and
    the process sat idle for half of them at 400 readers: benchmarks/README.md). Their answers are
    handed out in the order the reads started, so no request sees an older version than one already
    given to a request that arrived before it."""

    def __init__(self, pool: asyncpg.Pool, max_reads: int = MAX_READS):
        self.pool = pool
        self.max_reads = max_reads
        self.reads = 0
        self._next: asyncio.Future[tuple[int, ...]] | None = None  # not started yet: new arrivals join it
        self._readers: set[asyncio.Task[None]] = set()
        self._started = 0  # reads started so far: each read's number
        self._newest: tuple[int, tuple[int, ...]] = (0, ())  # the newest-started read answered: (number, version)

    async def read(self) -> tuple[int, ...]:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            if len(self._readers) < self.max_reads:
                reader = asyncio.create_task(self._read_all(), name="status-versions")
                self._readers.add(reader)
                reader.add_done_callback(self._readers.discard)
        waiting = self._next
        # shielded: a reader that goes away does not cancel the read the others wait for
        return await asyncio.shield(waiting)

    async def _read_all(self) -> None:
        while self._next is not None:
            waiting, self._next = self._next, None  # who arrives from now on waits for the next read
            self._started += 1
            number = self._started
            try:
                async with self.pool.acquire() as conn:
                    stored = tuple(await conn.fetchval(queries.STATUS_VERSION))
            except BaseException as exc:  # the database away: every request waiting gets the error
                if not waiting.done():
                    waiting.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            self.reads += 1
            if self._newest[0] > number:
                # A read that started later answered first: newer, and it too started after these
                # requests arrived.
                stored = self._newest[1]
            else:
                self._newest = (number, stored)
            if not waiting.done():
                waiting.set_result(stored)


def versions(state: Any) -> Versions:
    """The process's version reader (app.state)."""
    reader: Versions | None = getattr(state, "status_versions", None)
    if reader is None:
        reader = state.status_versions = Versions(state.pool)
    return reader


async def version(state: Any) -> tuple[int, ...]:
    """The stored version now, for a request of the app whose `state` this is."""
    return await versions(state).read()


VERSION_KEY = "slamon.status.version"  # scope: the version FromMemory read for this request


async def version_of(request: Any) -> tuple[int, ...]:
    """The stored version for a request: the one FromMemory read for it (after it arrived, so it
    holds every write committed before), else read now."""
    stored: tuple[int, ...] | None = request.scope.pop(VERSION_KEY, None)
    return stored if stored is not None else await version(request.app.state)


@dataclass(frozen=True)
class Body:
    """One built response: its bytes, their strong ETag, and what it was built from."""

    content: bytes
    etag: str
    version: tuple[int, ...]
    built_at: datetime
    extra: Any = None  # what the builder returned beside the bytes (the page's data)
    gzipped: bytes = b""  # the same bytes gzip-compressed once, for clients that accept it

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gz"'  # another representation: another strong ETag

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
    # (key, version) a reader found no build for and took to the route (claim): set once it starts one
    _claims: dict[tuple[Hashable, tuple[int, ...]], asyncio.Future[None]] = field(default_factory=dict)
    builds: int = 0

    def last(self, key: Hashable) -> Body | None:
        return self._bodies.get(key)

    def _ready(self, key: Hashable, stored: tuple[int, ...], now: datetime) -> Body | asyncio.Task[Body] | None:
        """What a reader of `key` at `now` gets without starting a build: the kept body when fresh, or
        while a build is under way when only time moved; else the build under way; else None."""
        body = self._bodies.get(key)
        if body is not None and body.fresh(stored, now):
            self._bodies.move_to_end(key)
            return body
        started, running = self._building.get((key, stored), (None, None))
        # a build started for another reader's `now` serves this one too while within FRESH_S of it
        if started is None or running is None or not started <= now < started + timedelta(seconds=FRESH_S):
            return None
        return body if _only_time_moved(body, stored, now) else running

    async def ready(self, key: Hashable, stored: tuple[int, ...], now: datetime) -> Body | None:
        """The body of `key` for the stored version at `now` if it is kept or being built (waited
        for), else None: a reader that cannot build (FromMemory) lets the route start the build."""
        ready = self._ready(key, stored, now)
        if ready is None or isinstance(ready, Body):
            return ready
        return await asyncio.shield(ready)  # a reader that goes away does not cancel the others' build

    def claim(self, key: Hashable, stored: tuple[int, ...]) -> asyncio.Future[None] | None:
        """For a reader that found nothing ready (FromMemory): None when it is the first, which takes
        the request to the route to start the build and calls `release` after; else what to wait
        for before looking again (readers arriving together then do not all go through routing)."""
        claimed = self._claims.get((key, stored))
        if claimed is None:
            self._claims[(key, stored)] = asyncio.get_running_loop().create_future()
        return claimed

    def release(self, key: Hashable, stored: tuple[int, ...]) -> None:
        claimed = self._claims.pop((key, stored), None)
        if claimed is not None and not claimed.done():
            claimed.set_result(None)

    async def get(self, key: Hashable, stored: tuple[int, ...], now: datetime, build: Builder) -> Body:
        """The body of `key` for the stored `version` at `now`: kept, being built, or built now."""
        ready = self._ready(key, stored, now)
        if ready is None:
            ready = asyncio.create_task(self._build(key, stored, now, build), name="status-build")
            self._building[(key, stored)] = (now, ready)
            self.release(key, stored)  # the readers who waited for it to start look again
            body = self._bodies.get(key)
            if body is not None and _only_time_moved(body, stored, now):
                # Nothing stored has changed, only time: the body of a moment ago is served while the
                # next is built, so readers never queue behind a build that only the clock asked for.
                return body
        if isinstance(ready, Body):
            return ready
        # shielded: a reader that goes away does not cancel the build the others wait for
        return await asyncio.shield(ready)

    async def _build(self, key: Hashable, stored: tuple[int, ...], now: datetime, build: Builder) -> Body:
        try:
            content, extra = await build()
            kept = self._bodies.get(key)
            if kept is not None and kept.content == content:
                body = Body(content, kept.etag, stored, now, extra, kept.gzipped)
            else:  # compressed once per change (a 250 kB page: ~25 kB), off the event loop
                body = Body(content, strong_etag(content), stored, now, extra, await asyncio.to_thread(_gzip, content))
            self.builds += 1
            if kept is None or kept.built_at <= now:  # an older build finishing late never replaces a newer one
                self._bodies[key] = body
                self._bodies.move_to_end(key)
                while len(self._bodies) > self.max_variants:
                    self._bodies.popitem(last=False)
            return body
        finally:
            if self._building.get((key, stored), (None, None))[1] is asyncio.current_task():
                del self._building[(key, stored)]


def _only_time_moved(body: Body | None, stored: tuple[int, ...], now: datetime) -> bool:
    """Whether `body` is of the stored version and less than STALE_BY_TIME old: servable while the
    build that time alone asked for runs."""
    return body is not None and body.version == stored and body.built_at <= now < body.built_at + STALE_BY_TIME


def of(state: Any, name: str) -> ResponseCache:
    """The app's cache called `name` (one per process: app.state)."""
    caches: dict[str, ResponseCache] | None = getattr(state, "status_caches", None)
    if caches is None:
        caches = state.status_caches = {}
    return caches.setdefault(name, ResponseCache())


def _gzip(content: bytes) -> bytes:
    return gzip.compress(content, compresslevel=6, mtime=0)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether Accept-Encoding admits gzip (q=0 refuses it)."""
    for part in (accept_encoding or "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def respond(
    body: Body, request_headers: Mapping[str, str], media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    """200 with the body (gzip-compressed when the client accepts it), or 304 when the client holds
    it already; both with ETag, Cache-Control and Vary."""
    compressed = accepts_gzip(request_headers.get("accept-encoding"))
    etag = body.gzip_etag if compressed else body.etag
    vary = ", ".join(v for v in ((headers or {}).get("Vary"), "Accept-Encoding") if v)
    sent = {**(headers or {}), "ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": vary}
    if etag_matches(request_headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=sent)
    if compressed:
        return Response(body.gzipped, media_type=media_type, headers={**sent, "Content-Encoding": "gzip"})
    return Response(body.content, media_type=media_type, headers=sent)


@dataclass(frozen=True)
class Served:
    """Where a request's body is kept and how it is sent: the cache's name and variant key, its media
    type and the route's own headers."""

    cache: str
    key: Hashable
    media_type: str
    headers: Mapping[str, str] | None = None


Resolver = Callable[[Scope, Headers], Served | None]  # None: for the route to answer


async def clock(app: Any) -> datetime:
    """deps.clock, or what the app's dependency overrides put in its place (tests pin time)."""
    given = app.dependency_overrides.get(deps.clock, deps.clock)()
    now: datetime = await given if inspect.isawaitable(given) else given
    return now


class FromMemory:
    """ASGI middleware: a GET of a status read (`resolvers`: path -> Resolver) whose body is kept for
    the stored version and fresh, or being built (ResponseCache.ready: waited for here), is answered
    here with what its route would have sent (`respond`); routing, dependency solving and the Request
    objects were most of such a request's CPU at 400 concurrent readers (benchmarks/README.md). Of
    the readers that find no build under way, the first goes on to the route, which starts it, and
    the others wait for that (ResponseCache.claim). The rest (a query string, the stale page with the
    database away, a failed read) goes on to the route too, with the version read here handed over
    (VERSION_KEY), so that it is read once."""

    def __init__(self, app: ASGIApp, resolvers: Mapping[str, Resolver]) -> None:
        self.app, self.resolvers = app, resolvers
        self._routes: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        resolver = self.resolvers.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        served = None if resolver is None else resolver(scope, headers := Headers(scope=scope))
        if served is None:
            return await self.app(scope, receive, send)
        route = self._routes.get(scope["path"])
        if route is None:  # the path's first request: its route answers it and is remembered
            await self.app(scope, receive, send)
            if scope.get("route") is not None:
                self._routes[scope["path"]] = scope["route"]
            return None
        app, key = scope["app"], served.key
        bodies = of(app.state, served.cache)
        try:
            stored = await version(app.state)
            body = await bodies.ready(key, stored, await clock(app))
            claimed = None if body is not None else bodies.claim(key, stored)
            if claimed is not None:  # another reader took its request to the route to start the build
                await asyncio.shield(claimed)
                body = await bodies.ready(key, stored, await clock(app))
        except Exception:  # the route reads again, builds again, and answers as it does on errors
            return await self.app(scope, receive, send)
        if body is None:  # no build under way: the route starts it
            scope[VERSION_KEY] = stored
            try:
                return await self.app(scope, receive, send)
            finally:
                if claimed is None:
                    bodies.release(key, stored)
        scope["route"] = route  # what RequestMetrics names the request by, as the route would have left it
        await respond(body, headers, served.media_type, served.headers)(scope, receive, send)
