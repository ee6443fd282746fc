"""Fixtures for the staff side: users of each role, signed-in clients, and a reset of the tables the
session-wide `conn` fixture does not know about (users, sessions, audit, comments, drafts)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from app.auth import passwords

passwords.ROUNDS = 4  # bcrypt's minimum cost: same code path, milliseconds instead of a quarter second

STAFF_TABLES = (
    "users",
    "sessions",
    "refresh_tokens",
    "login_throttle",
    "audit_log",
    "incident_comments",
    "incident_drafts",
)
PASSWORD = "correct horse battery"
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture
async def staff_db(conn):
    """`conn` with the incident tables and every staff table empty."""
    await conn.execute(f"TRUNCATE {', '.join(STAFF_TABLES)} CASCADE")
    yield conn


async def create_user(conn, username: str, role: str, password: str = PASSWORD) -> str:
    return str(
        await conn.fetchval(
            "INSERT INTO users (username, role, password_hash) VALUES ($1, $2, $3) RETURNING id",
            username,
            role,
            passwords.hash_password(password),
        )
    )


@pytest.fixture
def make_app(pool, settings):
    """(app, client factory): clients on one app, each from its own client address."""
    from app.main import create_app

    clients = []

    def make(**overrides):
        app = create_app(settings.model_copy(update=overrides))
        app.state.pool = pool

        def client(ip: str = "127.0.0.1") -> httpx.AsyncClient:
            c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://test")
            clients.append(c)
            return c

        return app, client

    yield make
    for c in clients:
        asyncio.get_event_loop().create_task(c.aclose())


class Staff:
    """A client on the real app plus users of every role, signed in on demand."""

    def __init__(self, conn, client: httpx.AsyncClient, app):
        self.conn, self.client, self.app = conn, client, app
        self.user_ids: dict[str, str] = {}
        self.tokens: dict[str, dict] = {}

    async def user(self, role: str, username: str | None = None) -> str:
        username = username or role
        if username not in self.user_ids:
            self.user_ids[username] = await create_user(self.conn, username, role)
        return self.user_ids[username]

    async def login(self, role: str, username: str | None = None) -> dict:
        username = username or role
        await self.user(role, username)
        response = await self.client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.tokens[username] = response.json()
        return response.json()

    async def headers(self, role: str, username: str | None = None) -> dict:
        username = username or role
        if username not in self.tokens:
            await self.login(role, username)
        return {"Authorization": f"Bearer {self.tokens[username]['accessToken']}"}


@pytest.fixture
async def staff(staff_db, make_app) -> Staff:
    app, client = make_app()
    return Staff(staff_db, client(), app)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
