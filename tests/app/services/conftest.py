"""Services created through the API outlive a test (the `services` table is the catalog, never
truncated): `drop_api_services` removes them again, with the rows that point at them."""
import pytest

from tests.conftest import reset


async def drop_api_services(conn) -> None:
    """Delete every service the API created (the raw and derived tables go first: they reference it)."""
    await reset(conn)
    await conn.execute("DELETE FROM services WHERE managed_by = 'api'")


@pytest.fixture
async def api_services(staff):
    """`staff`, and every service the test creates through the API dropped afterwards."""
    yield staff
    await drop_api_services(staff.conn)
