"""Shared benchmark plumbing: a scratch database per run, a 50-service catalog, synthetic checks
written only through the ingest module, timing helpers and the one-JSON-line output."""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg

# The scripts run as `python benchmarks/bench_x.py`, from a checkout whether or not it is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import db, deps  # noqa: E402
from app.config import Settings  # noqa: E402
from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks  # noqa: E402
from app.rollups import service as rollups  # noqa: E402
from app.services.models import ServiceConfig  # noqa: E402
from app.services.service import sync_catalog  # noqa: E402
from workers.common import EventPublisher  # noqa: E402

MINUTE = timedelta(minutes=1)
# Every table of the Apache edition's rollups (sql/004, sql/200): emptied to measure reads from raw rows.
APACHE_ROLLUP_TABLES = (
    "rollup_check_slots",
    "rollup_usage_minutes",
    "rollup_checks_daily",
    "rollup_checks_hourly",
    "rollup_usage_daily",
    "rollup_state",
)


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the result line."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(result: dict) -> None:
    print(json.dumps(result, separators=(", ", ": ")), flush=True)


def int_setting(argv_index: int, env_name: str, default: int) -> int:
    """A size from argv[argv_index], else the environment, else the default."""
    if len(sys.argv) > argv_index:
        return int(sys.argv[argv_index])
    return int(os.environ.get(env_name, default))


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model}


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def millis(seconds: float) -> float:
    return round(seconds * 1000, 2)


def percentile_ms(samples_s: list[float], q: float) -> float:
    """Nearest-rank percentile of durations in seconds, in milliseconds."""
    ordered = sorted(samples_s)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return millis(ordered[rank])


def median_ms(samples_s: list[float]) -> float:
    return millis(statistics.median(samples_s))


# --- database ---------------------------------------------------------------------------------


def server_url() -> str:
    return Settings().database_url


def reporting_timezone() -> str:
    return Settings().timezone


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def bench_services(count: int = 50) -> list[ServiceConfig]:
    """Push-only services svc-00 .. svc-NN (no URL: nothing probes them)."""
    return [ServiceConfig(id=f"svc-{i:02d}", name=f"Benchmark service {i:02d}") for i in range(count)]


@asynccontextmanager
async def scratch_database(
    bench_name: str, service_count: int = 50, *, server: str | None = None, backend: str = "auto"
):
    """Yield (url, service ids) of a fresh, migrated database with the catalog synced; drop it after.
    `server`: another server than SLAMON_DATABASE_URL's; `backend`: SLAMON_ROLLUP_BACKEND for it."""
    server = server or server_url()
    name = f"bench_{bench_name}_{os.getpid()}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    services = bench_services(service_count)
    try:
        conn = await connect(url)
        try:
            await db.migrate(conn, backend=backend)
            await sync_catalog(conn, services)
        finally:
            await conn.close()
        log(f"scratch database {name} migrated, {len(services)} services")
        yield url, [s.id for s in services]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        log(f"scratch database {name} dropped")


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url, server_settings={"timezone": "UTC", "application_name": "slamon-bench"})


async def server_versions(conn: asyncpg.Connection) -> dict:
    row = await conn.fetchrow(
        """SELECT current_setting('server_version') AS postgres,
                  (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb,
                  current_setting('timescaledb.license', true) AS license"""
    )
    return dict(row)


# --- synthetic checks -------------------------------------------------------------------------


def _outcomes(seed: int, count: int = 8192) -> list[tuple]:
    """(ok, status_code, latency_ms, error_type, error_message): mostly fast 200s, ~1% failures."""
    rng = random.Random(seed)
    outcomes = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.005:
            outcomes.append((False, None, None, "timeout", "no response within 30s"))
        elif roll < 0.01:
            outcomes.append((False, 503, rng.randint(5, 80), "http_error", "unexpected status 503"))
        else:
            outcomes.append((True, 200, int(rng.lognormvariate(5.0, 0.6)), None, None))
    return outcomes


def check_batches(
    service_ids: list[str],
    start: datetime,
    minutes: int,
    batch_rows: int,
    regions: tuple[str, ...] = ("default",),
    seed: int = 7,
) -> Iterator[list[CheckRow]]:
    """One check per service, region and minute from `start`, slot-ordered, in batches of ~batch_rows."""
    outcomes = _outcomes(seed)
    mask = len(outcomes) - 1
    pick = 0
    batch: list[CheckRow] = []
    for minute in range(minutes):
        ts = start + minute * MINUTE
        for service_id in service_ids:
            for region in regions:
                batch.append(CheckRow(ts, service_id, region, *outcomes[pick & mask]))
                pick += 1
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if batch:
        yield batch


async def settle(conn: asyncpg.Connection) -> None:
    """VACUUM ANALYZE the freshly loaded database, as autovacuum would have done on a running system:
    otherwise its workers process the new chunks during the measurements and take one of the 2 cores."""
    t = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")
    log(f"vacuum analyze in {time.perf_counter() - t:.1f}s")


def pin_clock(now: datetime) -> None:
    """Make the app's clock (app.deps.clock) stand still at `now`, the end of the loaded history: as on a
    live system whose probers are up to date, the newest slots of every service are minutes old. Left
    running, the clock moves past the data during the load and refresh, and the status reads take the
    path for services that stopped reporting (a lookup per service, ~20 ms) on every request.
    The clock's own `datetime` is replaced (for this process) rather than the dependency overridden:
    with any override in `app.dependency_overrides`, FastAPI rebuilds every dependency of every
    request from its signature (~0.4 ms a request that a deployed API does not spend)."""

    class Pinned(datetime):
        @classmethod
        def now(cls, tz=None):
            return now if tz is None else now.astimezone(tz)

    deps.datetime = Pinned


class ServerTime:
    """ASGI wrapper timing the server's part of each request: from the app being called to the last
    chunk of its response body being sent (what a client waits for), without the test client's own
    work (httpx builds the request, looks for trio on every call, decodes the response). Work after
    the body is sent (a pooled connection going back) is not counted, as a client never waits for it."""

    def __init__(self, app):
        self.app = app
        self.last: float | None = None

    async def __call__(self, scope, receive, send):
        start = time.perf_counter()

        async def timed_send(message):
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - start
            await send(message)

        await self.app(scope, receive, timed_send)


def floor_minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


async def load_minute_checks(
    conn: asyncpg.Connection, service_ids: list[str], start: datetime, days: int, now: datetime
) -> int:
    """One check per service and minute for `days` days from `start`, through the ingest module in
    50,000-row batches; returns the rows stored."""
    loaded = 0
    for batch in check_batches(service_ids, start, days * 1440, 50_000):
        loaded += (await write_checks(conn, batch, now=now)).accepted
    return loaded


# --- synthetic API calls, and a worker's context (bench_slo, bench_slo_definitions, bench_forecast) ----


def call_batches(
    service_ids: list[str],
    start: datetime,
    days: int,
    per_day: int,
    *,
    endpoint: Callable[[random.Random], tuple[str, str]] | None = None,
    errors: tuple[int, ...] = (404, 429, 500, 503),
    batch_rows: int = 50_000,
    seed: int = 11,
) -> Iterator[list[ApiCallRow]]:
    """`per_day` API calls per service and day from `start` at random times, ~1.2 % of them `errors`,
    latencies lognormal around 150 ms, in batches of `batch_rows`; `endpoint(rng)` draws each call's
    (endpoint, method) first, else every call is POST /v1."""
    rng = random.Random(seed)
    batch: list[ApiCallRow] = []
    for day in range(days):
        for service_id in service_ids:
            for _ in range(per_day):
                path, method = ("/v1", "POST") if endpoint is None else endpoint(rng)
                status = 200 if rng.random() > 0.012 else rng.choice(errors)
                ts = start + timedelta(days=day, seconds=rng.uniform(0, 86400))
                batch.append(ApiCallRow(ts, service_id, path, method, status, int(rng.lognormvariate(5.0, 0.6))))
                if len(batch) >= batch_rows:
                    yield batch
                    batch = []
    if batch:
        yield batch


async def load_checks_and_calls(
    conn: asyncpg.Connection,
    service_ids: list[str],
    start: datetime,
    days: int,
    per_day: int,
    now: datetime,
    *,
    endpoint: Callable[[random.Random], tuple[str, str]] | None = None,
    errors: tuple[int, ...] = (404, 429, 500, 503),
) -> tuple[int, int]:
    """A check per service and minute and `per_day` calls per service and day (call_batches) for
    `days` days from `start`, through the ingest module; then the rollups refreshed as the worker
    keeps them (every 30 s). Returns (checks, calls) stored."""
    t = time.perf_counter()
    checks = await load_minute_checks(conn, service_ids, start, days, now)
    stored = 0
    for batch in call_batches(service_ids, start, days, per_day, endpoint=endpoint, errors=errors):
        stored += (await write_api_calls(conn, batch, now=now)).accepted
    log(f"loaded {checks} checks and {stored} calls in {time.perf_counter() - t:.1f}s")
    await rollups.refresh(conn, "UTC", now)
    return checks, stored


async def worker_context(url: str) -> dict:
    """The context the arq worker gives its jobs (workers/settings.py) on the scratch database."""
    settings = Settings(database_url=url)
    pool = await db.create_pool(settings, min_size=1, max_size=4)
    return {"settings": settings, "pool": pool, "publisher": EventPublisher(settings), "job_try": 1}


async def close_worker_context(ctx: dict) -> None:
    """Forget the bench's realtime keys in Redis (its database's channel only), close the pool."""
    redis = ctx["publisher"].publisher.redis
    async for key in redis.scan_iter(f"{ctx['publisher'].publisher.channel}:*"):
        await redis.delete(key)
    await ctx["publisher"].close()
    await ctx["pool"].close()
