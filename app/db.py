"""The asyncpg pool and the migration runner."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app.config import Settings, resource_path

log = logging.getLogger(__name__)

SQL_DIR = resource_path("sql")
MIGRATION_LOCK = 0x51A_0001  # advisory lock key shared by every `slamon migrate`
# Reads are short and many: starting parallel workers or JIT costs more than they save, and
# replanning a statement over every chunk of a hypertable costs more than running it (generic plans
# keep TimescaleDB's runtime chunk exclusion).
SESSION_SETTINGS = {
    "timezone": "UTC",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
    "plan_cache_mode": "force_generic_plan",
}


M = TypeVar("M")
# A connection as a function may be handed it: one of its own (the CLI's, a test's) or a pool's proxy
# (`pool.acquire()`, spare_connection), which forwards every query method. The services take an
# asyncpg.Connection (docs/development.md); a function that also runs on a pool's proxy takes `Conn`.
Conn = asyncpg.Connection | PoolConnectionProxy


class Memory:
    """What a process learns from its database and keeps while it serves, one object per pool (the
    app's, the worker's): each module that keeps something defines its own class (rollups.service's
    Known, status.history's SettledDays) and finds its one instance with `memory(conn).of(ThatClass)`.
    No module-level state: two pools (two databases, the tests' databases) never share what was learnt,
    and a bare connection (the CLI, a test's own) gets a fresh, empty one: correct, only uncached."""

    def __init__(self) -> None:
        self._held: dict[type, Any] = {}

    def of(self, kind: type[M]) -> M:
        held = self._held.get(kind)
        if held is None:
            held = self._held[kind] = kind()
        return cast(M, held)


class PoolConnection(asyncpg.Connection):
    """A connection of a pool made by pool_connection_class: `memory` is its pool's."""

    memory: Memory


def pool_connection_class() -> type[PoolConnection]:
    """A connection class for one pool (asyncpg.create_pool's connection_class) whose connections share
    one Memory; reachable through the pool's connection proxies too (they forward attributes)."""
    return type("PoolConnection", (PoolConnection,), {"memory": Memory()})


def memory(conn: asyncpg.Connection) -> Memory:
    """The Memory of the pool `conn` came from, or a fresh one for a connection of no such pool."""
    held = getattr(conn, "memory", None)
    return held if isinstance(held, Memory) else Memory()


async def create_pool(settings: Settings, **kwargs: Any) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        settings.database_url,
        min_size=kwargs.pop("min_size", settings.pool_min),
        max_size=kwargs.pop("max_size", settings.pool_max),
        server_settings={"application_name": kwargs.pop("application_name", "slamon"), **SESSION_SETTINGS},
        connection_class=kwargs.pop("connection_class", None) or pool_connection_class(),
        **kwargs,
    )


async def spare_connection(pool: asyncpg.Pool) -> PoolConnectionProxy | None:
    """A second pooled connection for reads that can run beside the caller's own, or None when none
    is idle right now: never waited for, since requests that each hold one connection and wait for
    another could stall the pool. With one idle, the pool's queue hands a connection over without
    yielding to other tasks. Give it back with `pool.release`."""
    if pool.get_idle_size() == 0:
        return None
    return await pool.acquire()  # no timeout: it would also bound the reset on release


# Migrations under sql/tsl/ need the Timescale License build (continuous aggregates, compression
# and job policies); they are applied only where it runs and the rollup backend chosen says so
# (SLAMON_ROLLUP_BACKEND, caggs_chosen), recorded as "tsl/NNN_name.sql".
TSL_DIR = "tsl"
EDITION = "SELECT current_setting('timescaledb.license', true)"
EXTENSION_VERSION = (
    "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS version, "
    "current_setting('server_version_num')::int / 10000 AS pg_major"
)
# (TimescaleDB release major.minor, PostgreSQL major) pairs whose continuous-aggregate path was verified
# on real Timescale License servers (docs/operations.md, "Rollups: which backend, and how it was
# verified"): with the backend `auto`, only these keep the rollups as continuous aggregates; others keep
# tables. 2.29 on 16, 17 and 18: suites pass and the 10-day seed and catalog change are within 2x of the
# Apache path.
VERIFIED_CAGG_RELEASES = (("2.28", 15), ("2.29", 16), ("2.29", 17), ("2.29", 18))
BACKENDS = ("auto", "tables", "caggs")
CATALOG_RACE_RETRIES = (0.5, 1, 2, 4, 8, 15)  # seconds; see _apply


def caggs_chosen(backend: str, server_edition: str, version: str | None, pg_major: int | None = None) -> bool:
    """Whether a database first migrated now keeps its rollups as continuous aggregates."""
    if backend not in BACKENDS:
        raise MigrationError(f"SLAMON_ROLLUP_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "tables":
        return False
    if server_edition != "timescale":
        if backend == "caggs":
            raise MigrationError(
                "SLAMON_ROLLUP_BACKEND=caggs needs TimescaleDB's Timescale License edition "
                f"(continuous aggregates); this server runs the {server_edition} edition"
            )
        return False
    if backend == "caggs":
        return True
    release = ".".join((version or "").split(".")[:2])
    if (release, pg_major) not in VERIFIED_CAGG_RELEASES:
        verified = ", ".join(f"{r} on PostgreSQL {major}" for r, major in VERIFIED_CAGG_RELEASES)
        log.warning(
            "TimescaleDB %s on PostgreSQL %s has continuous aggregates but was not verified with them "
            "(verified: %s): the rollups stay plain tables; SLAMON_ROLLUP_BACKEND=caggs overrides",
            version,
            pg_major,
            verified,
        )
        return False
    return True


def migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted(p for p in sql_dir.glob("*.sql") if p.name[:3].isdigit())


def tsl_migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return migration_files(sql_dir / TSL_DIR)


async def edition(conn: asyncpg.Connection) -> str:
    """'timescale' when the server runs TimescaleDB's Timescale License build, else 'apache' (also
    before the extension is created: the setting only exists once it is loaded)."""
    return "timescale" if await conn.fetchval(EDITION) == "timescale" else "apache"


def _migration_name(path: Path, sql_dir: Path) -> str:
    return path.relative_to(sql_dir).as_posix()


async def migrate(
    conn: asyncpg.Connection, sql_dir: Path = SQL_DIR, *, server_edition: str | None = None, backend: str = "auto"
) -> list[str]:
    """Apply each pending migration once, in order, each in its own transaction; return their names.
    The edition is detected after the extension exists (001), unless `server_edition` says it. The
    rollup backend is chosen at a database's first TSL migration and kept: once one is applied, the
    later ones follow whatever the setting says now."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_migrations")}
        # One order by file name across both folders: on a Timescale License server the TSL objects
        # come in their numbered place, before any later migration that alters what they read.
        use_caggs: bool | None = True if any(name.startswith(f"{TSL_DIR}/") for name in done) else None
        for path in sorted(migration_files(sql_dir) + tsl_migration_files(sql_dir), key=lambda p: p.name):
            name = _migration_name(path, sql_dir)
            if path.parent.name == TSL_DIR:
                if use_caggs is None:
                    server_edition = server_edition or await edition(conn)
                    server = await conn.fetchrow(EXTENSION_VERSION)
                    assert server is not None  # a SELECT without FROM: one row
                    use_caggs = caggs_chosen(backend, server_edition, server["version"], server["pg_major"])
                if not use_caggs:
                    continue
            if await _apply(conn, path, name, done.get(name)):
                applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied


async def _apply(conn: asyncpg.Connection, path: Path, name: str, done_checksum: str | None) -> bool:
    text = path.read_text()  # noqa: ASYNC240 — a small file, read once by `migrate` before serving
    checksum = hashlib.sha256(text.encode()).hexdigest()
    if done_checksum is not None:
        if done_checksum != checksum:
            log.warning("migration %s changed after it was applied; not re-applied", name)
        return False
    for delay in (*CATALOG_RACE_RETRIES, None):
        try:
            async with conn.transaction():
                await conn.execute(text)
                await conn.execute("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", name, checksum)
            return True
        except asyncpg.PostgresError as exc:
            # A TimescaleDB background job writing the catalog rows a migration deletes (a refresh
            # policy's job while its aggregate is dropped: "tuple concurrently deleted"). The migration
            # was rolled back whole; it runs again once the job is done.
            if delay is None or not isinstance(exc, asyncpg.InternalServerError) or "concurrently" not in str(exc):
                raise MigrationError(f"{name}: {exc}") from exc
            log.warning("migration %s met a background job (%s); trying again in %s s", name, exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


class MigrationError(RuntimeError):
    """A migration failed; its transaction was rolled back."""
