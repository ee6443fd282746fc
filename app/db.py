"""The asyncpg pool and the migration runner."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import asyncpg

from app.config import ROOT_DIR, Settings

log = logging.getLogger(__name__)

SQL_DIR = ROOT_DIR / "sql"
MIGRATION_LOCK = 0x51A_0001  # advisory lock key shared by every `slamon migrate`
# Reads are short and many: starting parallel workers or JIT costs more than they save, and
# replanning a statement over every chunk of a hypertable costs more than running it (generic plans
# keep TimescaleDB's runtime chunk exclusion).
SESSION_SETTINGS = {"timezone": "UTC", "max_parallel_workers_per_gather": "0", "jit": "off",
                    "plan_cache_mode": "force_generic_plan"}


async def create_pool(settings: Settings, **kwargs) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        settings.database_url,
        min_size=kwargs.pop("min_size", settings.pool_min),
        max_size=kwargs.pop("max_size", settings.pool_max),
        server_settings={"application_name": kwargs.pop("application_name", "slamon"), **SESSION_SETTINGS},
        **kwargs,
    )


def migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted(p for p in sql_dir.glob("*.sql") if p.name[:3].isdigit())


async def migrate(conn: asyncpg.Connection, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply each pending migration once, in order, each in its own transaction; return their names."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_migrations")}
        for path in migration_files(sql_dir):
            text = path.read_text()
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if path.name in done:
                if done[path.name] != checksum:
                    log.warning("migration %s changed after it was applied; not re-applied", path.name)
                continue
            async with conn.transaction():
                try:
                    await conn.execute(text)
                except asyncpg.PostgresError as exc:
                    raise MigrationError(f"{path.name}: {exc}") from exc
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", path.name, checksum
                )
            applied.append(path.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied


class MigrationError(RuntimeError):
    """A migration failed; its transaction was rolled back."""
