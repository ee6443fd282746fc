"""Ingest endpoints: monitored services report API calls, external probers push check results.
Authenticated by the service's ingest key; a key writes only its own service's rows."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import TypeAdapter, ValidationError

from app import deps
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.config import Settings
from app.contract import errors
from app.errors import ApiError, not_found
from app.ingest import keys, service
from app.ingest.models import (
    ApiCallIn,
    CheckIn,
    IngestKeyCreate,
    IngestKeyIssued,
    IngestKeyList,
    IngestKeysRevoked,
    IngestResponse,
)
from app.services import service as services

Row = TypeVar("Row", CheckIn, ApiCallIn)
Record = TypeVar("Record", service.CheckRow, service.ApiCallRow)
router = APIRouter(tags=["ingest"])
admin_router = APIRouter(tags=["ingest"], dependencies=[Depends(current_user)])
# The body is parsed here (JSON array or NDJSON), not by FastAPI: its errors are declared by hand.
INGEST_ERRORS = errors(
    401,
    413,
    422,
    e401={"error": "unauthorized", "message": "invalid ingest key"},
    e413={"error": "payload_too_large", "message": "over 10000 rows"},
    e422={
        "error": "validation_error",
        "message": "row 3: latency_ms: Input should be greater than or equal to 0",
        "details": [{"row": 3, "field": "latency_ms", "message": "Input should be greater than or equal to 0"}],
    },
)
BEARER_HELP = "send the service's ingest key as 'Authorization: Bearer <key>' (slamon ingest-key create SERVICE_ID)"


async def authenticated_service(request: Request, conn: asyncpg.Connection, settings: Settings) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(
            401, "unauthorized", f"missing ingest key: {BEARER_HELP}", headers={"WWW-Authenticate": "Bearer"}
        )
    service_id = await keys.authenticate(conn, settings.resolved_secret_key(), key.strip())
    if service_id is None:
        raise ApiError(401, "unauthorized", "invalid ingest key", headers={"WWW-Authenticate": "Bearer"})
    return service_id


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"request body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class _Oversized:
    """A JSON number too long to be any field's value; reported by field instead of parsed."""

    def __init__(self, digits: int):
        self.digits = digits


MAX_NUMBER_CHARS = 32  # longer than any int64 or any float a field takes


def _number(text: str, convert: Callable[[str], float]) -> float | _Oversized:
    return _Oversized(len(text)) if len(text) > MAX_NUMBER_CHARS else convert(text)


def _loads(text: str) -> Any:
    """json.loads, refusing bodies nested too deeply and numbers too long for any field (both 422)."""
    return json.loads(text, parse_int=lambda t: _number(t, int), parse_float=lambda t: _number(t, float))


def _row_problem(message: str, row: int | None = None, field: str | None = None) -> ApiError:
    where = f"row {row}: " if row is not None else ""
    return ApiError(
        422,
        "validation_error",
        f"{where}{field + ': ' if field else ''}{message}",
        [{"row": row, "field": field, "message": message}],
    )


def _check_numbers(rows: list[Any]) -> None:
    for index, row in enumerate(rows):
        if isinstance(row, dict):
            for name, value in row.items():
                if isinstance(value, _Oversized):
                    raise _row_problem(f"a number of {value.digits} characters is out of range", index, name)


def _parse_rows(body: bytes, content_type: str, max_rows: int) -> list[Any]:
    """A JSON array, or NDJSON (one object a line); errors name the row (0-based)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(422, "validation_error", f"body is not UTF-8 (byte {exc.start})") from None
    if "ndjson" in content_type or "jsonlines" in content_type:
        rows = []
        for number, line in enumerate(text.splitlines()):
            if line.strip():
                try:
                    rows.append(_loads(line))
                except json.JSONDecodeError as exc:
                    raise ApiError(
                        422,
                        "validation_error",
                        f"row {len(rows)} (line {number + 1}): not JSON: {exc.msg}",
                        [{"row": len(rows), "field": None, "message": f"not JSON: {exc.msg}"}],
                    ) from None
                except RecursionError:
                    raise _row_problem(f"nested too deeply (line {number + 1})", len(rows)) from None
    else:
        try:
            rows = _loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(422, "validation_error", f"body is not JSON: {exc.msg} at line {exc.lineno}") from None
        except RecursionError:
            raise _row_problem("body is nested too deeply: send a JSON array of flat row objects") from None
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list):
            raise ApiError(422, "validation_error", "body must be a JSON array of rows, or NDJSON")
    if len(rows) > max_rows:
        raise ApiError(413, "payload_too_large", f"{len(rows)} rows; at most {max_rows} a request")
    _check_numbers(rows)
    return rows


def _validated(adapter: TypeAdapter[list[Row]], rows: list[Any]) -> list[Row]:
    try:
        return adapter.validate_python(rows)
    except ValidationError as exc:
        details = [
            {
                "row": e["loc"][0] if e["loc"] else None,
                "field": ".".join(str(p) for p in e["loc"][1:]) or None,
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        first = details[0]
        raise ApiError(
            422,
            "validation_error",
            f"row {first['row']}: {first['field'] or 'row'}: {first['message']}"
            + (f" (and {len(details) - 1} more)" if len(details) > 1 else ""),
            details,
        ) from None


def _ingest_failed(exc: service.IngestError) -> ApiError:
    return ApiError(
        422, "validation_error", str(exc), [{"row": e.row, "field": e.field, "message": e.message} for e in exc.errors]
    )


CHECKS = TypeAdapter(list[CheckIn])
API_CALLS = TypeAdapter(list[ApiCallIn])


async def _ingest(
    request: Request,
    conn: asyncpg.Connection,
    settings: Settings,
    now: datetime,
    adapter: TypeAdapter[list[Row]],
    to_record: Callable[[str, Row], Record],
    write: Callable[..., Awaitable[service.IngestResult]],
    admit: Callable[[asyncpg.Connection, str], Awaitable[None]] | None = None,
) -> IngestResponse:
    """Authenticate, admit (before reading the body), read within limits, validate, write through the ingest module."""
    service_id = await authenticated_service(request, conn, settings)
    try:
        if admit is not None:
            await admit(conn, service_id)
        body = await read_body(request, settings.max_body_bytes)
        rows = _validated(adapter, _parse_rows(body, request.headers.get("content-type", ""), settings.ingest_max_rows))
        records = [to_record(service_id, r) for r in rows]
        result = await write(
            conn, service_id, records, now=now, max_future=timedelta(seconds=settings.ingest_max_future_s)
        )
    except service.IngestError as exc:
        raise _ingest_failed(exc) from None
    except service.PushRefused as exc:
        raise ApiError(403, "probed_service", str(exc)) from None
    return IngestResponse(accepted=result.accepted, duplicates=result.duplicates, received=len(records))


@router.post(
    "/api/ingest/checks",
    response_model=IngestResponse,
    responses={
        **INGEST_ERRORS,
        **errors(403, e403={"error": "probed_service", "message": "face-compare is probed: push refused"}),
    },
    summary="Push check results of a push-only service (JSON array or NDJSON, up to 10,000 rows); "
    "403 for a probed service, whose results come from the probers only",
)
async def ingest_checks(
    request: Request,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> IngestResponse:
    async def write(
        conn: asyncpg.Connection, service_id: str, records: list[service.CheckRow], **limits: Any
    ) -> service.IngestResult:
        return await service.write_pushed_checks(
            conn, records, service_id=service_id, regions=settings.ingest_regions, **limits
        )

    return await _ingest(
        request,
        conn,
        settings,
        now,
        CHECKS,
        lambda sid, r: service.CheckRow(
            r.ts, sid, r.region, r.ok, r.status_code, r.latency_ms, r.error_type, r.error_message
        ),
        write,
        admit=service.refuse_if_probed,
    )


@router.post(
    "/api/ingest/api-calls",
    response_model=IngestResponse,
    responses=INGEST_ERRORS,
    summary="Report real API calls (JSON array or NDJSON, up to 10,000 rows)",
)
async def ingest_api_calls(
    request: Request,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> IngestResponse:
    return await _ingest(
        request,
        conn,
        settings,
        now,
        API_CALLS,
        lambda sid, r: service.ApiCallRow(r.ts, sid, r.endpoint, r.method, r.status_code, r.latency_ms, r.request_id),
        lambda conn, service_id, records, **limits: service.write_api_calls(conn, records, **limits),
    )


# --- ingest keys (admin): issue, rotate, revoke; every change audited -----------------------------

ServiceIdPath = Path(max_length=50)


async def _service(conn: asyncpg.Connection, service_id: str, *, active: bool = False) -> asyncpg.Record:
    row = await services.get(conn, service_id)
    if row is None:
        raise not_found("service", service_id)
    if active and not row["is_active"]:
        raise ApiError(409, "conflict", f"service {service_id!r} is archived: it takes no ingest keys")
    return row


@admin_router.get(
    "/api/services/{service_id}/ingest-keys",
    response_model=IngestKeyList,
    responses=errors(404),
    summary="A service's ingest keys, newest first: prefix, creation, revocation (admin; never the keys)",
)
async def list_ingest_keys(
    service_id: str = ServiceIdPath,
    actor: Principal = Depends(require("services:read")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> IngestKeyList:
    await _service(conn, service_id)
    return await keys.list_keys(conn, service_id)


@admin_router.post(
    "/api/services/{service_id}/ingest-keys",
    status_code=201,
    response_model=IngestKeyIssued,
    responses=errors(404, 409, e409={"error": "conflict", "message": "service 'old' is archived"}),
    summary="Issue a new ingest key (admin), shown this once; revokes the service's other keys "
    "unless revoke_others is false",
)
async def issue_ingest_key(
    service_id: str = ServiceIdPath,
    body: IngestKeyCreate | None = Body(None),
    actor: Principal = Depends(require("services:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> IngestKeyIssued:
    await _service(conn, service_id, active=True)
    key, read = await keys.issue(
        conn, service_id, keys.Actor.of(actor), revoke_others=body.revoke_others if body else True
    )
    return IngestKeyIssued(key=key, ingest_key=read)


@admin_router.delete(
    "/api/services/{service_id}/ingest-keys",
    response_model=IngestKeysRevoked,
    responses=errors(404),
    summary="Revoke every ingest key of a service (admin)",
)
async def revoke_ingest_keys(
    service_id: str = ServiceIdPath,
    actor: Principal = Depends(require("services:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> IngestKeysRevoked:
    await _service(conn, service_id)
    return IngestKeysRevoked(revoked=await keys.revoke(conn, service_id, keys.Actor.of(actor)))


@admin_router.delete(
    "/api/services/{service_id}/ingest-keys/{key_id}",
    response_model=IngestKeysRevoked,
    responses=errors(404),
    summary="Revoke one ingest key (admin)",
)
async def revoke_ingest_key(
    service_id: str = ServiceIdPath,
    key_id: int = Path(ge=1, le=2**63 - 1),
    actor: Principal = Depends(require("services:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> IngestKeysRevoked:
    await _service(conn, service_id)
    revoked = await keys.revoke(conn, service_id, keys.Actor.of(actor), key_id)
    if not revoked:
        raise ApiError(404, "not_found", f"service {service_id!r} has no active ingest key {key_id}")
    return IngestKeysRevoked(revoked=revoked)


# Included last: a router copies the routes it includes when it includes them.
router.include_router(admin_router)
