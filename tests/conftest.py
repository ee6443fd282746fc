"""Real PostgreSQL+TimescaleDB and Redis for every test: started through `make services`, one fresh
database per test session (so parallel runs never share state), migrated with the project's own
migrations. SLAMON_TEST_DATABASE_URL points the suite at another server (e.g. one with the
Timescale License) instead, and SLAMON_ROLLUP_BACKEND=caggs runs it on continuous aggregates there
whether or not that release is verified (app/db.py, VERIFIED_CAGG_RELEASES)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from pathlib import Path

import asyncpg
import pytest

from app import db
from app.config import Settings
from app.services.service import load_catalog, sync_catalog

ROOT = Path(__file__).resolve().parent.parent
RESET_TABLES = (
    "checks",
    "api_calls",
    "rollup_invalidations",
    "rollup_check_slots",
    "rollup_usage_minutes",
    "rollup_checks_hourly",
    "rollup_checks_daily",
    "rollup_usage_daily",
    "rollup_state",
    "incident_updates",
    "incidents",
    "maintenance_windows",
    "prober_heartbeats",
    "slo_violations",
    "slo_definition_violations",
    "slo_definitions",
    "slo_forecast_alerts",
    "slo_definition_forecast_alerts",
    "slo_tally",
    "slo_tally_buckets",
    "slo_tally_latencies",
    "slo_tally_runs",
    "service_certificates",
    "report_snapshots",
    "report_pdfs",
    "subscriptions",
    "notification_events",
    "notification_deliveries",
    "notification_attempts",
    "public_rate_limits",
    "detection_state",
    "raw_retention",
    "maintenance_slots_archive",
    "regions",
    "live_status",
)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (for servers a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_url() -> str:
    return os.environ.get("SLAMON_TEST_DATABASE_URL") or Settings().database_url


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _can_connect(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session")
async def database_url():
    server = _server_url()
    if not await _can_connect(server):
        subprocess.run(["make", "-s", "services"], cwd=ROOT, check=True)
    name = f"slamon_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    conn = await asyncpg.connect(url)
    try:
        await db.migrate(conn, backend=Settings().rollup_backend)
        await sync_catalog(conn, load_catalog(ROOT / "services.toml"))
    finally:
        await conn.close()
    yield url
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
async def pool(database_url):
    # The app's session settings (UTC, generic plans, ...): statements are planned as in production.
    # Its connections share one db.Memory, as the app's and the worker's do.
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=10,
        server_settings=db.SESSION_SETTINGS,
        connection_class=db.pool_connection_class(),
    )
    yield pool
    await pool.close()


async def reset(conn: asyncpg.Connection) -> None:
    """Every test table empty; on a Timescale License server the continuous aggregates too (emptying
    their raw tables by TRUNCATE leaves them to the next refresh)."""
    from app.rollups import caggs
    from app.rollups import service as rollups

    try:
        async with conn.transaction():
            # bounded: a connection a test left in a transaction would hold TRUNCATE (and the session) for ever
            await conn.execute("SET LOCAL lock_timeout = '60s'")
            await conn.execute(f"TRUNCATE {', '.join(RESET_TABLES)} CASCADE")
    except asyncpg.LockNotAvailableError:
        blockers = await conn.fetch(
            "SELECT DISTINCT a.pid, a.state, a.application_name, left(a.query, 200) AS query "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.granted AND a.pid <> pg_backend_pid() "
            "AND l.relation IN (SELECT to_regclass(t) FROM unnest($1::text[]) t)",
            list(RESET_TABLES),
        )
        pytest.fail(f"tables not emptied in 60 s, locked by: {[dict(b) for b in blockers]}")
    if await rollups.uses_caggs(conn):
        for view in reversed(caggs.VIEWS):  # second levels first
            await conn.execute(f"TRUNCATE {view}")


@pytest.fixture
async def conn(pool):
    async with pool.acquire() as conn:
        await reset(conn)
        yield conn


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret", data_dir=tmp_path)


@pytest.fixture
def make_client(pool, settings):
    """An HTTP client on the real app (real pool), with the clock pinned when `now` is given."""
    import httpx

    from app import deps
    from app.main import create_app

    clients = []

    async def make(now=None, **overrides):
        app = create_app(settings.model_copy(update=overrides))
        app.state.pool = pool
        if now is not None:
            app.dependency_overrides[deps.clock] = lambda: now
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        asyncio.get_event_loop().create_task(client.aclose())
