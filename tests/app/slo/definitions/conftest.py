"""Fixtures of the SLO definitions tests: `conn` with the definitions and their violations emptied
too (the session's reset does not know these tables)."""

from __future__ import annotations

import pytest


@pytest.fixture
async def defs_db(conn):
    await conn.execute("TRUNCATE slo_definition_violations, slo_definitions CASCADE")
    yield conn
