"""One JSON error shape for every failure a client can cause: {"error", "message", "details"?}."""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Sequence
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
# The database cannot be reached (refused, restarting, connection lost mid-request, pool or connect
# timeout): the client may retry, so a 503 with Retry-After, never a 500.
DB_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
)
RETRY_AFTER_S = 5
# An OSError is the database being unreachable only when it is about the connection (asyncpg raises
# plain OSError "Multiple exceptions" when every address of the host failed); a missing file is a bug.
CONNECTION_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EADDRNOTAVAIL,
    None,
}


def is_unreachable(exc: BaseException) -> bool:
    """Whether an error of DB_UNAVAILABLE's classes says the database cannot be reached."""
    if isinstance(exc, OSError) and not isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)):
        return exc.errno in CONNECTION_ERRNOS
    return True


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status, self.error, self.message, self.details, self.headers = status, error, message, details, headers
        super().__init__(message)


def not_found(what: str, key: str) -> ApiError:
    return ApiError(404, "not_found", f"unknown {what} {key!r}")


def _body(error: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "message": message}
    if details is not None:
        body["details"] = details
    return body


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    details = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc and loc[0] in ("query", "path", "body", "header") else None
        field = ".".join(loc[1:] if where else loc)
        details.append({"in": where, "field": field, "message": err.get("msg", "invalid")})
    return details


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.error, exc.message, exc.details), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(exc.errors())
        names = ", ".join(sorted({f"{d['in']}.{d['field']}" if d["in"] else d["field"] for d in details}))
        return JSONResponse(_body("validation_error", f"invalid {names}", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            _body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(_body("internal_error", "unexpected server error"), status_code=500)

    app.add_exception_handler(Exception, _unexpected)

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not is_unreachable(exc):
            return await _unexpected(request, exc)
        log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
        return unavailable("database unavailable, retry shortly")

    for exc_class in DB_UNAVAILABLE:
        app.add_exception_handler(exc_class, _unavailable)


def unavailable(message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse(
        _body("service_unavailable", message, details), status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
    )
