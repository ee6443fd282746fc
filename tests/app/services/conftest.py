"""Services created through the API outlive a test (the `services` table is the catalog, never
truncated): `restore_catalog` puts the catalog back as services.toml has it."""

import pytest

from app.services.service import load_catalog, sync_catalog
from tests.conftest import ROOT, reset


async def restore_catalog(conn) -> None:
    """Only services.toml's services, with its values: every other service is deleted (the raw and
    derived rows that point at it go first), including one the file took over in a test."""
    catalog = load_catalog(ROOT / "services.toml")
    await reset(conn)
    await conn.execute("DELETE FROM services WHERE NOT (id = ANY($1::text[]))", [s.id for s in catalog])
    await sync_catalog(conn, catalog)


@pytest.fixture
async def api_services(staff):
    """`staff`, and the catalog restored afterwards."""
    yield staff
    await restore_catalog(staff.conn)
