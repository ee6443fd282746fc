"""POST /api/auth/login, /refresh, /logout, /password; GET /api/auth/me."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Depends, Request

from app import deps
from app.auth import passwords, permissions, service
from app.auth.deps import client_ip, current_user
from app.auth.models import LoginIn, LogoutIn, MeRead, PasswordChangeIn, RefreshIn, TokenPair, TokenRefresh
from app.auth.service import Principal
from app.config import Settings
from app.contract import Success, deprecated_keys, errors
from app.realtime import hub
from app.users import service as users

router = APIRouter(tags=["auth"], dependencies=[Depends(deprecated_keys)])
# wrong credentials and too many failures: the answers a client must handle at sign-in
LOGIN_ERRORS = errors(401, 429, e401={"error": "unauthorized", "message": "invalid username or password"})


@router.post(
    "/api/auth/login",
    response_model=TokenPair,
    responses=LOGIN_ERRORS,
    summary="Exchange username and password for tokens",
)
async def login(
    body: LoginIn,
    request: Request,
    _slot: None = Depends(passwords.slot),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> TokenPair:
    return await service.login(
        conn,
        settings.resolved_secret_key(),
        body.username,
        body.password,
        client_ip(request),
        request.headers.get("user-agent", ""),
    )


@router.post(
    "/api/auth/refresh",
    response_model=TokenRefresh,
    responses=errors(401, e401={"error": "unauthorized", "message": "invalid refresh token"}),
    summary="Rotate a refresh token: the old one is spent, a new pair returned",
)
async def refresh(
    body: RefreshIn,
    request: Request,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> TokenRefresh:
    return await service.refresh(conn, settings.resolved_secret_key(), body.refresh_token, client_ip(request))


@router.post("/api/auth/logout", response_model=Success, summary="End this session (its access and refresh tokens)")
async def logout(
    request: Request,
    body: LogoutIn | None = None,
    principal: Principal = Depends(current_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Success:
    await service.logout(conn, principal)
    await hub(request).disconnect_session(principal.session_id)
    return Success(success=True)


@router.get("/api/auth/me", response_model=MeRead, summary="The signed-in user, role and permissions")
async def me(
    principal: Principal = Depends(current_user), conn: asyncpg.Connection = Depends(deps.connection)
) -> MeRead:
    user = await users.get(conn, principal.user_id)
    assert user is not None  # current_user found the account just now
    return MeRead(user=user, permissions=sorted(permissions.MATRIX[principal.role]), session_id=principal.session_id)


@router.post(
    "/api/auth/password",
    response_model=Success,
    responses=errors(403, 429, e403={"error": "forbidden", "message": "current password is wrong"}),
    summary="Change one's own password; every session ends",
)
async def change_password(
    body: PasswordChangeIn,
    request: Request,
    _slot: None = Depends(passwords.slot),
    principal: Principal = Depends(current_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Success:
    await users.change_own_password(conn, principal, body.current_password, body.new_password)
    await hub(request).disconnect_user(principal.user_id)
    return Success(success=True)
