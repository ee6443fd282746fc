"""/api/users: account management, admin only."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from app import deps
from app.auth import passwords
from app.auth.deps import require
from app.auth.service import Principal
from app.contract import Deleted, deprecated_keys, errors
from app.errors import not_found
from app.realtime import hub
from app.users import service
from app.users.models import UserCreate, UserOne, UserPage, UserUpdate

router = APIRouter(tags=["users"], dependencies=[Depends(require("users:read")), Depends(deprecated_keys)])
_ONE, _ID = "#/paths/~1api~1users~1{user_id}", {"user_id": "$response.body#/user/id"}
# OpenAPI links: what a client (and the stateful schemathesis test) can do next with a new account.
USER_LINKS = {
    "GetUser": {"operationRef": f"{_ONE}/get", "parameters": _ID},
    "EditUser": {"operationRef": f"{_ONE}/put", "parameters": _ID},
    "DeleteUser": {"operationRef": f"{_ONE}/delete", "parameters": _ID},
}


@router.get("/api/users", response_model=UserPage, summary="User accounts (admin)")
async def list_users(
    page: int = Query(1, ge=1, le=10_000),
    limit: int = Query(50, ge=1, le=200),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> UserPage:
    return await service.list_users(conn, page, limit)


@router.post(
    "/api/users",
    status_code=201,
    response_model=UserOne,
    responses={
        201: {"links": USER_LINKS},
        **errors(409, e409={"error": "conflict", "message": "username 'alice' is taken"}),
    },
    summary="Create an account (admin)",
)
async def create_user(
    body: UserCreate,
    _slot: None = Depends(passwords.slot),
    actor: Principal = Depends(require("users:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> UserOne:
    return UserOne(user=await service.create(conn, body, actor))


@router.get("/api/users/{user_id}", response_model=UserOne, responses=errors(404), summary="One account (admin)")
async def get_user(user_id: str, conn: asyncpg.Connection = Depends(deps.connection)) -> UserOne:
    user = await service.get(conn, user_id)
    if user is None:
        raise not_found("user", user_id)
    return UserOne(user=user)


@router.put(
    "/api/users/{user_id}",
    response_model=UserOne,
    responses=errors(404, 409),
    summary="Change email, role, active flag or password (admin)",
)
async def update_user(
    user_id: str,
    body: UserUpdate,
    request: Request,
    _slot: None = Depends(passwords.slot),
    actor: Principal = Depends(require("users:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> UserOne:
    user, revoked = await service.update(conn, user_id, body, actor)
    if revoked:
        await hub(request).disconnect_user(user.id)
    return UserOne(user=user)


@router.delete(
    "/api/users/{user_id}",
    response_model=Deleted,
    responses=errors(404, 409),
    summary="Delete an account (admin); the audit trail keeps its name",
)
async def delete_user(
    user_id: str,
    request: Request,
    actor: Principal = Depends(require("users:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Deleted:
    await service.delete(conn, user_id, actor)
    await hub(request).disconnect_user(user_id)
    return Deleted(success=True, message="사용자가 삭제되었습니다.")
