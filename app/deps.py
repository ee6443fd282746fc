"""Shared FastAPI dependencies: settings, a pooled connection, the clock."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone

import asyncpg
from fastapi import Request

from app.config import Settings


def settings(request: Request) -> Settings:
    return request.app.state.settings


async def connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn


def clock() -> datetime:
    """Now, in UTC; overridden in tests that pin time."""
    return datetime.now(timezone.utc)
