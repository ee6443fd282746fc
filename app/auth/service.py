"""Login, refresh-token rotation, logout, and turning an access token into a principal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import asyncpg

from app.audit import service as audit
from app.auth import passwords, queries, throttle, tokens
from app.auth.models import TokenPair, TokenRefresh, UserRead
from app.auth.usernames import username_key
from app.errors import ApiError
from app.formatting import utc_iso

TOUCH_EVERY = timedelta(minutes=1)  # last_seen is written at most this often per session


@dataclass
class Principal:
    user_id: str
    username: str
    role: str
    session_id: str
    token_version: int
    ip: str = field(default="", compare=False)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def user_to_read(row: asyncpg.Record) -> UserRead:
    return UserRead(
        id=str(row["id"]),
        username=row["username"],
        email=row["email"],
        role=row["role"],
        is_active=row["is_active"],
        created_at=utc_iso(row["created_at"]),
        last_login_at=utc_iso(row["last_login_at"]),
    )


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def _issue_pair(
    conn: asyncpg.Connection,
    secret: str,
    user_id: uuid.UUID,
    role: str,
    session_id: uuid.UUID,
    token_version: int,
    now: datetime,
) -> TokenRefresh:
    refresh, refresh_hash = tokens.new_refresh()
    await conn.execute(queries.INSERT_REFRESH, refresh_hash, session_id, now + tokens.REFRESH_TTL)
    return TokenRefresh(
        access_token=tokens.issue_access(secret, str(user_id), role, str(session_id), token_version, now),
        refresh_token=refresh,
        token_type="bearer",
        expires_in=int(tokens.ACCESS_TTL.total_seconds()),
        refresh_expires_in=int(tokens.REFRESH_TTL.total_seconds()),
    )


async def login(
    conn: asyncpg.Connection, secret: str, username: str, password: str, ip: str, user_agent: str
) -> TokenPair:
    """Check the password (throttled per account+IP, account, IP); open a session; audit either way."""
    now = utcnow()
    wait = await throttle.retry_after(conn, username, ip, now)
    if wait:
        await audit.record(
            conn,
            "auth.login_throttled",
            actor_name=username[:64],
            target_type="user",
            target_id=username[:64],
            ip=ip,
            details={"retry_after_s": wait},
        )
        raise ApiError(
            429,
            "too_many_requests",
            f"too many failed logins; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    user = await conn.fetchrow(queries.USER_BY_NAME, username_key(username))
    ok = await passwords.verify_async(password, user["password_hash"] if user else None)
    if not ok or user is None or not user["is_active"]:
        async with conn.transaction():
            await throttle.record_failure(conn, username, ip, now)
            reason = "bad credentials" if not ok else "account disabled"
            await audit.record(
                conn,
                "auth.login_failed",
                actor_id=str(user["id"]) if user else None,
                actor_name=username[:64],
                target_type="user",
                target_id=username[:64],
                ip=ip,
                details={"reason": reason},
            )
        raise unauthorized("invalid username or password")
    async with conn.transaction():
        await throttle.record_success(conn, username, ip)
        session_id = await conn.fetchval(queries.CREATE_SESSION, user["id"], ip, user_agent[:300])
        await conn.execute(queries.TOUCH_LOGIN, user["id"])
        pair = await _issue_pair(conn, secret, user["id"], user["role"], session_id, user["token_version"], now)
        await audit.record(
            conn,
            "auth.login",
            actor_id=str(user["id"]),
            actor_name=user["username"],
            target_type="user",
            target_id=str(user["id"]),
            ip=ip,
            details={"session_id": str(session_id)},
        )
        fresh = await conn.fetchrow(queries.USER_BY_NAME, user["username_key"])
        assert fresh is not None  # read above in this transaction, which holds the session it opened
    return TokenPair(**pair.model_dump(by_alias=False), user=user_to_read(fresh))


async def refresh(conn: asyncpg.Connection, secret: str, refresh_token: str, ip: str) -> TokenRefresh:
    """Rotate: the presented token is spent and a new pair issued; a spent token presented again
    revokes the whole session (its family), since one of the two holders is not the user."""
    now = utcnow()
    async with conn.transaction():
        row = await conn.fetchrow(queries.REFRESH_FOR_UPDATE, tokens.hash_refresh(refresh_token))
        if row is None:
            raise unauthorized("invalid refresh token")
        if row["used_at"] is not None:
            await conn.execute(queries.REVOKE_SESSION, row["session_id"], "refresh token reuse")
            await audit.record(
                conn,
                "auth.refresh_reuse",
                actor_id=str(row["user_id"]),
                actor_name=row["username"],
                target_type="session",
                target_id=str(row["session_id"]),
                ip=ip,
            )
            reused = True
        else:
            reused = False
    if reused:
        raise unauthorized("refresh token already used; session revoked")
    if row["revoked_at"] is not None or not row["is_active"]:
        raise unauthorized("session revoked")
    if row["expires_at"] <= now:
        raise unauthorized("refresh token expired")
    if now - row["last_seen_at"] > tokens.IDLE_TIMEOUT:
        await conn.execute(queries.REVOKE_SESSION, row["session_id"], "idle")
        raise unauthorized("session expired")
    async with conn.transaction():
        await conn.execute(queries.MARK_REFRESH_USED, row["token_hash"])
        await conn.execute(queries.TOUCH_SESSION, row["session_id"], now)
        pair = await _issue_pair(
            conn, secret, row["user_id"], row["role"], row["session_id"], row["token_version"], now
        )
    return pair


async def logout(conn: asyncpg.Connection, principal: Principal) -> None:
    """End the session: its refresh tokens and access tokens stop working."""
    async with conn.transaction():
        await conn.execute(queries.REVOKE_SESSION, principal.session_id, "logout")
        await audit.record_by(conn, principal, "auth.logout", "session", principal.session_id)


async def authenticate(conn: asyncpg.Connection, secret: str, token: str, ip: str = "") -> Principal:
    """The signed-in user behind an access token, or 401 saying why not."""
    try:
        claims = tokens.decode_access(secret, token)
    except tokens.TokenError as exc:
        raise unauthorized(str(exc)) from None
    try:
        row = await conn.fetchrow(queries.PRINCIPAL, claims.session_id, claims.user_id)
    except (asyncpg.DataError, ValueError):  # ids that are not UUIDs
        raise unauthorized("invalid token") from None
    if row is None or row["revoked_at"] is not None:
        raise unauthorized("session revoked")
    if not row["is_active"]:
        raise unauthorized("account disabled")
    if row["token_version"] != claims.token_version:
        raise unauthorized("token revoked")
    now = utcnow()
    if now - row["last_seen_at"] > tokens.IDLE_TIMEOUT:
        await conn.execute(queries.REVOKE_SESSION, row["session_id"], "idle")
        raise unauthorized("session expired")
    if now - row["last_seen_at"] > TOUCH_EVERY:
        await conn.execute(queries.TOUCH_SESSION, row["session_id"], now)
    return Principal(str(row["id"]), row["username"], row["role"], str(row["session_id"]), row["token_version"], ip)


async def revoke_user(conn: asyncpg.Connection, user_id: str, reason: str) -> list[str]:
    """End every session of a user (the caller bumps token_version in the same transaction)."""
    return [str(r["id"]) for r in await conn.fetch(queries.REVOKE_USER_SESSIONS, user_id, reason)]
