"""POST /api/auth/login, /refresh, /logout, /password; GET /api/auth/me."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from app import deps
from app.auth import permissions, service
from app.auth.deps import client_ip, current_user
from app.auth.models import LoginIn, LogoutIn, MeRead, PasswordChangeIn, RefreshIn, TokenPair
from app.realtime import hub
from app.users import service as users

router = APIRouter(tags=["auth"])


@router.post("/api/auth/login", response_model=TokenPair, summary="Exchange username and password for tokens")
async def login(body: LoginIn, request: Request, conn=Depends(deps.connection), settings=Depends(deps.settings)):
    return await service.login(
        conn,
        settings.resolved_secret_key(),
        body.username,
        body.password,
        client_ip(request),
        request.headers.get("user-agent", ""),
    )


@router.post("/api/auth/refresh", summary="Rotate a refresh token: the old one is spent, a new pair returned")
async def refresh(body: RefreshIn, request: Request, conn=Depends(deps.connection), settings=Depends(deps.settings)):
    return await service.refresh(conn, settings.resolved_secret_key(), body.refresh_token, client_ip(request))


@router.post("/api/auth/logout", summary="End this session (its access and refresh tokens)")
async def logout(
    request: Request, body: LogoutIn | None = None, principal=Depends(current_user), conn=Depends(deps.connection)
):
    await service.logout(conn, principal)
    await hub(request).disconnect_session(principal.session_id)
    return {"success": True}


@router.get("/api/auth/me", response_model=MeRead, summary="The signed-in user, role and permissions")
async def me(principal=Depends(current_user), conn=Depends(deps.connection)):
    row = await users.get(conn, principal.user_id)
    return {
        "user": users.to_read(row),
        "permissions": sorted(permissions.MATRIX[principal.role]),
        "session_id": principal.session_id,
    }


@router.post("/api/auth/password", summary="Change one's own password; every session ends")
async def change_password(
    body: PasswordChangeIn, request: Request, principal=Depends(current_user), conn=Depends(deps.connection)
):
    await users.change_own_password(conn, principal, body.current_password, body.new_password)
    await hub(request).disconnect_user(principal.user_id)
    return {"success": True}
