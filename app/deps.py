"""Shared FastAPI dependencies: settings, a pooled connection, the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone

import asyncpg
from fastapi import Request

from app.config import Settings
from app.errors import ApiError


# `async def`, though they never wait: FastAPI runs a plain `def` dependency in its thread pool, a
# thread hop per request that cost a third of a request's time at 400 concurrent readers of
# /api/system-status (benchmarks/README.md, "Status page under 400 clients").
async def settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn


async def clock() -> datetime:
    """Now, in UTC; overridden in tests that pin time."""
    return datetime.now(timezone.utc)


def utc_instant(ts: datetime | None, field: str) -> datetime | None:
    """A query-parameter instant in UTC (a time without offset is taken as UTC); one outside years
    1-9999 once in UTC is a 422 naming the parameter, never a 500 from the database driver."""
    if ts is None:
        return None
    try:
        return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)
    except OverflowError:
        raise ApiError(
            422,
            "validation_error",
            f"{field} is out of range",
            [{"in": "query", "field": field, "message": "out of range in UTC"}],
        ) from None
