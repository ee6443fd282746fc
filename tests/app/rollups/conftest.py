"""The rollup tests run on either edition: against the Apache rollup tables here, against the
continuous aggregates (app/rollups/caggs.py) on a Timescale License server
(SLAMON_TEST_DATABASE_URL=postgresql://…)."""

import pytest

from app.rollups import service as rollups

TIMESCALE_ONLY = (
    "needs TimescaleDB's Timescale License build (continuous aggregates); this server runs the "
    "Apache edition. Point SLAMON_TEST_DATABASE_URL at a 'timescale' server to run it."
)
APACHE_ONLY = "inspects the Apache edition's rollup tables; the Timescale License path keeps continuous aggregates"


async def materialised(conn, rollup: str) -> str:
    """The relation that holds a rollup's materialised buckets on this server."""
    if not await rollups.uses_caggs(conn):
        return f"rollup_{rollup}"
    return await conn.fetchval(
        "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) "
        "FROM timescaledb_information.continuous_aggregates WHERE view_name = $1",
        f"cagg_{rollup}",
    )


@pytest.fixture
async def timescale_only(conn):
    if not await rollups.uses_caggs(conn):
        pytest.skip(TIMESCALE_ONLY)
