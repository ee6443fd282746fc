"""The rollup tests run on either edition: against the Apache rollup tables here, against the
continuous aggregates (app/rollups/caggs.py) on a Timescale License server
(SLAMON_TEST_DATABASE_URL=postgresql://…)."""
import pytest

from app.rollups import caggs
from app.rollups import service as rollups
from tests.conftest import reset

TIMESCALE_ONLY = "needs TimescaleDB's Timescale License build (continuous aggregates); this server runs the " \
                 "Apache edition. Point SLAMON_TEST_DATABASE_URL at a 'timescale' server to run it."
APACHE_ONLY = "inspects the Apache edition's rollup tables; the Timescale License path keeps continuous aggregates"


async def reset_rollups(conn) -> None:
    """tests.conftest.reset, and the continuous aggregates too: emptying raw tables by TRUNCATE leaves
    them to the next refresh, and the ingest's log (what readers read live) is emptied as well."""
    await reset(conn)
    if await rollups.uses_caggs(conn):
        for view in reversed(caggs.VIEWS):  # second levels first
            await conn.execute(f"TRUNCATE {view}")


async def materialised(conn, rollup: str) -> str:
    """The relation that holds a rollup's materialised buckets on this server."""
    if not await rollups.uses_caggs(conn):
        return f"rollup_{rollup}"
    return await conn.fetchval(
        "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) "
        "FROM timescaledb_information.continuous_aggregates WHERE view_name = $1", f"cagg_{rollup}")


@pytest.fixture
async def conn(pool):
    async with pool.acquire() as conn:
        await reset_rollups(conn)
        yield conn


@pytest.fixture
async def timescale_only(conn):
    if not await rollups.uses_caggs(conn):
        pytest.skip(TIMESCALE_ONLY)
