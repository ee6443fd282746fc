"""Fixtures of the SLO definitions tests: `conn` with the definitions and their violations emptied
too (the session's reset does not know these tables)."""

from __future__ import annotations

import pytest


@pytest.fixture
async def defs_db(conn):
    await conn.execute("TRUNCATE slo_definition_violations, slo_definitions CASCADE")
    yield conn


@pytest.fixture
async def worker_ctx(pool, settings):
    """A worker context as workers/settings.py builds it (tests/workers/conftest.py has the same)."""
    from workers.common import EventPublisher

    publisher = EventPublisher(settings)
    yield {"settings": settings, "pool": pool, "publisher": publisher, "job_try": 1}
    await publisher.close()
