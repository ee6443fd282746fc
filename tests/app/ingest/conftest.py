import pytest

PUSH_ONLY = "nightly-export"


@pytest.fixture
async def push_only(conn):
    """A push-only service (no URL: its own reporter sends its check results), removed afterwards so
    that other tests see the catalog as services.toml has it."""
    await conn.execute(
        "INSERT INTO services (id, name, endpoint_url, managed_by) VALUES ($1, 'Nightly export', NULL, "
        "'api') ON CONFLICT (id) DO NOTHING",
        PUSH_ONLY,
    )
    yield PUSH_ONLY
    await conn.execute("DELETE FROM checks WHERE service_id = $1", PUSH_ONLY)
    await conn.execute("DELETE FROM api_calls WHERE service_id = $1", PUSH_ONLY)
    await conn.execute("DELETE FROM services WHERE id = $1", PUSH_ONLY)


async def new_key(conn, service_id: str) -> str:
    """A fresh ingest key of the service (its other keys kept), as `slamon ingest-key create` issues it."""
    from app.ingest.keys import Actor, issue

    key, _ = await issue(conn, service_id, Actor("test"), revoke_others=False)
    return key
