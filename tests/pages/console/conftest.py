"""Console fixtures: users of each role, an HTTP client on the console site, and signing in through
the console's own sign-in form (as a browser does)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from app.auth import passwords
from tests.app.conftest import PASSWORD, STAFF_TABLES, create_user

passwords.ROUNDS = 4  # bcrypt's minimum cost: same code path, milliseconds instead of a quarter second
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def console_db(conn):
    """Incidents and every staff table empty."""
    await conn.execute(f"TRUNCATE {', '.join(STAFF_TABLES)} CASCADE")
    yield conn


@pytest.fixture
def console_client(pool, settings, console_db):
    """Factory: an httpx client on the console site (real app, real pool); redirects not followed."""
    from app.main import create_app

    clients = []

    def make(**overrides) -> httpx.AsyncClient:
        app = create_app(settings.model_copy(update=overrides), site="console")
        app.state.pool = pool
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)), base_url="http://console.test"
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        asyncio.get_event_loop().create_task(client.aclose())


async def ensure_user(conn, username: str, role: str) -> str:
    existing = await conn.fetchval("SELECT id FROM users WHERE username = $1", username)
    return str(existing) if existing else await create_user(conn, username, role)


async def sign_in(
    client: httpx.AsyncClient, conn, role: str, username: str | None = None, next_url: str = "/"
) -> httpx.Response:
    """Create the user if needed, then sign in through GET/POST /login; returns the POST's answer."""
    username = username or role
    await ensure_user(conn, username, role)
    form = await client.get("/login")
    csrf = CSRF_FIELD.search(form.text).group(1)
    return await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf": csrf, "next": next_url}
    )


async def api_token(client: httpx.AsyncClient, conn, role: str, username: str | None = None) -> dict:
    """Authorization headers from the REST login (for arranging data through the API)."""
    username = username or role
    await ensure_user(conn, username, role)
    response = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}
