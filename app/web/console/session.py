"""The console's browser session: the API's own tokens (app/auth) kept in HttpOnly, SameSite=Lax
cookies, so server-rendered pages know who is signed in and what they may do. (Lax, not Strict: a
link to an incident from chat or e-mail opens signed in; pages only read, and every write needs the
bearer token or the CSRF token, which another site cannot send.)

- Sign-in goes through app.auth.service.login (same throttling, audit and sessions as
  POST /api/auth/login); sign-out through app.auth.service.logout.
- Every page request authenticates the access cookie with app.auth.service.authenticate, which
  enforces the API's idle logout (2 h without use) and revocation; an expired access token is
  rotated with the refresh cookie (app.auth.service.refresh).
- The page hands the access token to its own scripts (for REST calls and the Socket.IO handshake,
  same origin); pages are `Cache-Control: no-store`.
- The console's own form posts (sign-in, sign-out) carry a double-submit CSRF token and must come
  from the same origin.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import asyncpg
from fastapi import Request, Response
from fastapi.exceptions import HTTPException

from app.auth import permissions, tokens
from app.auth import service as auth
from app.auth.deps import client_ip
from app.auth.models import TokenRefresh
from app.auth.service import Principal
from app.errors import ApiError

ACCESS_COOKIE = "slamon_console_at"
REFRESH_COOKIE = "slamon_console_rt"
CSRF_COOKIE = "slamon_console_csrf"
IDLE_TIMEOUT_S = int(tokens.IDLE_TIMEOUT.total_seconds())


@dataclass
class PageUser:
    """The signed-in user of a console page."""

    principal: Principal
    access_token: str
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def _pending(request: Request) -> list[tuple[str, str | None, int | None]]:
    if not hasattr(request.state, "console_cookies"):
        request.state.console_cookies = []
    pending: list[tuple[str, str | None, int | None]] = request.state.console_cookies
    return pending


def queue_cookie(request: Request, name: str, value: str | None, max_age: int | None = None) -> None:
    """A cookie to set (value) or clear (None) on whatever response the page returns."""
    _pending(request).append((name, value, max_age))


def apply_cookies(request: Request, response: Response) -> None:
    secure = request.url.scheme == "https"
    for name, value, max_age in _pending(request):
        if value is None:
            response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")
        else:
            response.set_cookie(name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax")
    request.state.console_cookies = []


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (double submit): from its cookie, or a new one set on the response."""
    token = getattr(request.state, "console_csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not token or len(token) > 100:
        token = secrets.token_urlsafe(24)
        queue_cookie(request, CSRF_COOKIE, token)
    request.state.console_csrf = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """403 unless the form carries this browser's CSRF token and comes from this origin."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    origin = request.headers.get("origin")
    same_origin = origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"
    if not (cookie and submitted and secrets.compare_digest(cookie, submitted) and same_origin):
        raise ApiError(403, "csrf_failed", "the form expired or came from another site: reload the page and retry")


def safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme) is a place to go after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def login_redirect(request: Request, reason: str | None = None) -> HTTPException:
    """A 303 to the sign-in page, which comes back here afterwards (and drops stale cookies)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(here, safe='')}" + (f"&reason={reason}" if reason else "")
    # Starlette's HTTPException keeps its headers; browsers follow a 303's Location whatever the body.
    return HTTPException(status_code=303, headers={"Location": location})


def _reason(exc: ApiError) -> str:
    return "idle" if exc.message == "session expired" else "signed_out"


async def signed_in(request: Request, conn: asyncpg.Connection) -> PageUser | None:
    """The user behind the cookies, rotating an expired access token; None when nobody is signed in."""
    secret = request.app.state.settings.resolved_secret_key()
    access = request.cookies.get(ACCESS_COOKIE)
    refresh = request.cookies.get(REFRESH_COOKIE)
    request.state.console_reason = None
    if access:
        try:
            principal = await auth.authenticate(conn, secret, access, client_ip(request))
            return PageUser(principal, access, permissions.MATRIX.get(principal.role, frozenset()))
        except ApiError as exc:
            request.state.console_reason = _reason(exc)
            if exc.message not in ("token expired",):
                refresh = None  # revoked, idle or disabled: the refresh token cannot help
    if refresh:
        try:
            pair = await auth.refresh(conn, secret, refresh, client_ip(request))
            principal = await auth.authenticate(conn, secret, pair.access_token, client_ip(request))
        except ApiError as exc:
            request.state.console_reason = _reason(exc)
        else:
            set_tokens(request, pair)
            return PageUser(principal, pair.access_token, permissions.MATRIX.get(principal.role, frozenset()))
    return None


async def require_user(request: Request, conn: asyncpg.Connection) -> PageUser:
    """The signed-in user, or a redirect to the sign-in page that comes back here afterwards."""
    user = await signed_in(request, conn)
    if user is None:
        raise login_redirect(request, request.state.console_reason)
    return user


def set_tokens(request: Request, pair: TokenRefresh) -> None:
    queue_cookie(request, ACCESS_COOKIE, pair.access_token, pair.expires_in)
    queue_cookie(request, REFRESH_COOKIE, pair.refresh_token, pair.refresh_expires_in)


def clear_tokens(request: Request) -> None:
    queue_cookie(request, ACCESS_COOKIE, None)
    queue_cookie(request, REFRESH_COOKIE, None)
