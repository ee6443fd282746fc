"""Route dependencies: `current_user` (401 without a valid access token) and `require(permission)` (403
for a role the matrix does not allow). Declared on routers so that they are authenticated by default."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app import deps
from app.audit import service as audit
from app.auth import permissions
from app.auth.service import Principal, authenticate, unauthorized
from app.errors import ApiError

bearer = HTTPBearer(auto_error=False, description="access token from POST /api/auth/login")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def current_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("missing access token: send 'Authorization: Bearer <token>'")
    settings = request.app.state.settings
    principal = await authenticate(conn, settings.resolved_secret_key(), credentials.credentials, client_ip(request))
    request.state.principal = principal
    return principal


@cache
def require(permission: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through only roles the matrix grants `permission`; refusals are audited."""
    permissions.allows("admin", permission)  # unknown permission names fail when the route is declared

    async def dependency(
        request: Request,
        principal: Principal = Depends(current_user),
        conn: asyncpg.Connection = Depends(deps.connection),
    ) -> Principal:
        if not permissions.allows(principal.role, permission):
            await audit.record_by(
                conn,
                principal,
                "access.denied",
                "route",
                f"{request.method} {request.url.path}",
                {"permission": permission, "role": principal.role},
            )
            raise ApiError(403, "forbidden", f"role {principal.role!r} may not {permission}")
        return principal

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency
