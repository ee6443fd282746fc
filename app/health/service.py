"""Readiness probes: can this process reach the database and Redis right now?"""

from __future__ import annotations

import asyncio

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.errors import DB_UNAVAILABLE

PROBE_TIMEOUT_S = 3.0


async def database_error(pool: asyncpg.Pool) -> str | None:
    """None when a pooled connection answers SELECT 1 in time, else why not."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except (*DB_UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__
    return None


async def redis_error(redis_url: str) -> str | None:
    """None when Redis answers PING in time, else why not."""
    # redis-py leaves from_url unannotated (the client it returns is typed)
    client: aioredis.Redis = aioredis.from_url(  # type: ignore[no-untyped-call]
        redis_url, socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S
    )
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__
    finally:
        await client.aclose()
    return None
