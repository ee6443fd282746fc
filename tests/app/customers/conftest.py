"""Customers' tables are not in the session-wide reset (tests/conftest.py): emptied here around each
test that uses them."""

import pytest

CUSTOMER_TABLES = ("customer_target_overrides", "customer_services", "customers", "customer_statements")


async def clear_customers(conn) -> None:
    await conn.execute(f"TRUNCATE {', '.join(CUSTOMER_TABLES)} CASCADE")


@pytest.fixture
async def customers_db(conn):
    await clear_customers(conn)
    yield conn
    await clear_customers(conn)


@pytest.fixture
async def customers_staff(staff):
    await clear_customers(staff.conn)
    yield staff
    await clear_customers(staff.conn)
