"""User accounts: list, get, create, update, delete. Changing role, password or active flag bumps the
token version and ends the user's sessions, so old tokens stop working at once."""

from __future__ import annotations

import uuid

import asyncpg

from app.audit import service as audit
from app.auth import passwords, throttle
from app.auth.models import UserRead
from app.auth.service import Principal, revoke_user, user_to_read, utcnow
from app.auth.usernames import username_key
from app.contract import Pagination
from app.errors import ApiError, not_found
from app.users import queries
from app.users.models import UserCreate, UserPage, UserUpdate

to_read = user_to_read


def _uuid(user_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(user_id)
    except (ValueError, TypeError):
        return None


async def get(conn: asyncpg.Connection, user_id: str) -> UserRead | None:
    key = _uuid(user_id)
    row = None if key is None else await conn.fetchrow(queries.GET, key)
    return None if row is None else to_read(row)


async def list_users(conn: asyncpg.Connection, page: int, limit: int) -> UserPage:
    total = await conn.fetchval(queries.COUNT)
    rows = await conn.fetch(queries.LIST, limit, (page - 1) * limit)
    return UserPage(users=[to_read(r) for r in rows], pagination=Pagination.of(page, limit, total))


async def create(conn: asyncpg.Connection, data: UserCreate, actor: Principal | None) -> UserRead:
    """A new account; 409 if the username is taken (case-insensitively)."""
    password_hash = await passwords.hash_async(data.password)
    async with conn.transaction():
        if await conn.fetchrow(queries.BY_NAME, username_key(data.username)):
            raise ApiError(409, "conflict", f"username {data.username!r} is taken")
        try:
            row = await conn.fetchrow(queries.INSERT, data.username, data.email, data.role, password_hash)
        except asyncpg.UniqueViolationError:
            raise ApiError(409, "conflict", f"username {data.username!r} is taken") from None
        assert row is not None  # INSERT … RETURNING
        details = {"username": data.username, "role": data.role}
        if actor is None:
            await audit.record(
                conn, "user.create", actor_name="cli", target_type="user", target_id=str(row["id"]), details=details
            )
        else:
            await audit.record_by(conn, actor, "user.create", "user", str(row["id"]), details)
    return to_read(row)


async def _ensure_an_admin_remains(
    conn: asyncpg.Connection, user_row: asyncpg.Record, new_role: str, new_active: bool
) -> None:
    if user_row["role"] != "admin" or not user_row["is_active"] or (new_role == "admin" and new_active):
        return
    admins = await conn.fetch(queries.LOCK_ADMINS)
    if len(admins) <= 1:
        raise ApiError(409, "conflict", "the last active admin cannot be demoted, disabled or deleted")


async def update(conn: asyncpg.Connection, user_id: str, data: UserUpdate, actor: Principal) -> tuple[UserRead, bool]:
    """Apply the given fields; returns the user and whether existing tokens were revoked."""
    key = _uuid(user_id)
    new_hash = await passwords.hash_async(data.password) if data.password else None  # not under the row lock
    async with conn.transaction():
        row = None if key is None else await conn.fetchrow(queries.GET_FOR_UPDATE, key)
        if row is None:
            raise not_found("user", user_id)
        fields = data.model_dump(exclude_unset=True)
        email = fields.get("email", row["email"])
        role = fields.get("role") or row["role"]
        active = row["is_active"] if fields.get("is_active") is None else fields["is_active"]
        await _ensure_an_admin_remains(conn, row, role, active)
        revoke = role != row["role"] or active != row["is_active"] or new_hash is not None
        updated = await conn.fetchrow(queries.UPDATE, key, email, role, active, new_hash, revoke)
        assert updated is not None  # the row is locked above
        if role != row["role"]:
            await audit.record_by(
                conn,
                actor,
                "user.role_change",
                "user",
                user_id,
                {"username": row["username"], "from": row["role"], "to": role},
            )
        if active != row["is_active"]:
            await audit.record_by(
                conn, actor, "user.enable" if active else "user.disable", "user", user_id, {"username": row["username"]}
            )
        if new_hash is not None:
            await audit.record_by(conn, actor, "user.password_reset", "user", user_id, {"username": row["username"]})
        if email != row["email"]:
            await audit.record_by(conn, actor, "user.update", "user", user_id, {"username": row["username"]})
        if revoke:
            await revoke_user(conn, str(key), "account changed")
    return to_read(updated), revoke


async def delete(conn: asyncpg.Connection, user_id: str, actor: Principal) -> None:
    key = _uuid(user_id)
    async with conn.transaction():
        row = None if key is None else await conn.fetchrow(queries.GET_FOR_UPDATE, key)
        if row is None:
            raise not_found("user", user_id)
        await _ensure_an_admin_remains(conn, row, "viewer", False)
        await conn.execute(queries.DELETE, key)
        await audit.record_by(conn, actor, "user.delete", "user", user_id, {"username": row["username"]})


async def change_own_password(conn: asyncpg.Connection, principal: Principal, current: str, new: str) -> None:
    """Verify the current password (throttled like logins: a stolen token must not guess it), set the
    new one, end every session (this one included)."""
    now = utcnow()
    wait = await throttle.retry_after(conn, principal.username, principal.ip, now)
    if wait:
        await audit.record_by(
            conn, principal, "user.password_change_throttled", "user", principal.user_id, {"retry_after_s": wait}
        )
        raise throttle.too_many_attempts(wait)
    row = await conn.fetchrow(queries.GET_WITH_HASH, uuid.UUID(principal.user_id))
    assert row is not None  # the principal's account: authenticated just now
    if not await passwords.verify_async(current, row["password_hash"]):
        async with conn.transaction():
            await throttle.record_failure(conn, principal.username, principal.ip, now)
            await audit.record_by(conn, principal, "user.password_change_failed", "user", principal.user_id)
        raise ApiError(403, "forbidden", "current password is wrong")
    new_hash = await passwords.hash_async(new)
    async with conn.transaction():
        row = await conn.fetchrow(queries.GET_FOR_UPDATE, row["id"])
        if row is None:  # deleted by an admin meanwhile
            raise not_found("user", principal.user_id)
        await conn.execute(queries.UPDATE, row["id"], row["email"], row["role"], row["is_active"], new_hash, True)
        await throttle.record_success(conn, principal.username, principal.ip)
        await revoke_user(conn, principal.user_id, "password changed")
        await audit.record_by(conn, principal, "user.password_change", "user", principal.user_id)
