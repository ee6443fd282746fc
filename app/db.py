"""The asyncpg pool and the migration runner."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from pathlib import Path

import asyncpg

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


async def create_pool(settings: Settings, **kwargs) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        settings.database_url,
        min_size=kwargs.pop("min_size", settings.pool_min),
        max_size=kwargs.pop("max_size", settings.pool_max),
        server_settings={"application_name": kwargs.pop("application_name", "slamon"), **SESSION_SETTINGS},
        **kwargs,
    )


async def spare_connection(pool: asyncpg.Pool | None) -> asyncpg.Connection | None:
    """A second pooled connection for reads that can run beside the caller's own, or None when none
    is idle right now: never waited for, since requests that each hold one connection and wait for
    another could stall the pool. With one idle, the pool's queue hands a connection over without
    yielding to other tasks. Give it back with `pool.release`."""
    if pool is None or pool.get_idle_size() == 0:
        return None
    return await pool.acquire()  # no timeout: it would also bound the reset on release


# Where a statement's lower bound on raw rows goes into its text (with_time_floor).
TIME_FLOOR = "{time_floor}"


def with_time_floor(sql: str, floor: datetime | None) -> str:
    """`sql` with its time floor (TIME_FLOOR) written in: a lower bound on the raw rows it
    reads, as text rather than a value, so that even the cached generic plan leaves out every chunk of
    the hypertable before it (given as a value, each run would initialise all of them, ~90 here). The
    floor is a timestamp from the database or the app's clock, never client input; each distinct floor
    is a statement of its own, so callers round it (a day, an hour) to keep their number small. None:
    no floor."""
    literal = "'-infinity'" if floor is None else f"'{floor.isoformat()}'"
    return sql.replace(TIME_FLOOR, f"{literal}::timestamptz")


# Migrations under sql/tsl/ need the Timescale License build (continuous aggregates, compression
# and job policies); they are applied only where it runs, recorded as "tsl/NNN_name.sql".
TSL_DIR = "tsl"
EDITION = "SELECT current_setting('timescaledb.license', true)"


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


async def migrate(conn: asyncpg.Connection, sql_dir: Path = SQL_DIR, *, server_edition: str | None = None) -> list[str]:
    """Apply each pending migration once, in order, each in its own transaction; return their names.
    The edition is detected after the extension exists (001), unless `server_edition` says it."""
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
        for path in sorted(migration_files(sql_dir) + tsl_migration_files(sql_dir), key=lambda p: p.name):
            name = _migration_name(path, sql_dir)
            if path.parent.name == TSL_DIR:
                server_edition = server_edition or await edition(conn)
                if server_edition != "timescale":
                    continue
            if await _apply(conn, path, name, done.get(name)):
                applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied


async def _apply(conn: asyncpg.Connection, path: Path, name: str, done_checksum: str | None) -> bool:
    text = path.read_text()
    checksum = hashlib.sha256(text.encode()).hexdigest()
    if done_checksum is not None:
        if done_checksum != checksum:
            log.warning("migration %s changed after it was applied; not re-applied", name)
        return False
    async with conn.transaction():
        try:
            await conn.execute(text)
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"{name}: {exc}") from exc
        await conn.execute("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", name, checksum)
    return True


class MigrationError(RuntimeError):
    """A migration failed; its transaction was rolled back."""
