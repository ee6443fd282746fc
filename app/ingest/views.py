"""Ingest endpoints: monitored services report API calls, external probers push check results.
Authenticated by the service's ingest key; a key writes only its own service's rows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import TypeAdapter, ValidationError

from app import deps
from app.errors import ApiError
from app.ingest import service
from app.ingest.models import ApiCallIn, CheckIn, IngestResponse

router = APIRouter(tags=["ingest"])
BEARER_HELP = "send the service's ingest key as 'Authorization: Bearer <key>' (slamon ingest-key SERVICE_ID)"


async def _authenticated_service(request: Request, conn, settings) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(
            401, "unauthorized", f"missing ingest key: {BEARER_HELP}", headers={"WWW-Authenticate": "Bearer"}
        )
    service_id = await service.authenticate(conn, settings.resolved_secret_key(), key.strip())
    if service_id is None:
        raise ApiError(401, "unauthorized", "invalid ingest key", headers={"WWW-Authenticate": "Bearer"})
    return service_id


async def _read_body(request: Request, limit: int) -> bytes:
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
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ApiError(
                        422,
                        "validation_error",
                        f"row {len(rows)} (line {number + 1}): not JSON: {exc.msg}",
                        [{"row": len(rows), "field": None, "message": f"not JSON: {exc.msg}"}],
                    ) from None
    else:
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(422, "validation_error", f"body is not JSON: {exc.msg} at line {exc.lineno}") from None
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list):
            raise ApiError(422, "validation_error", "body must be a JSON array of rows, or NDJSON")
    if len(rows) > max_rows:
        raise ApiError(413, "payload_too_large", f"{len(rows)} rows; at most {max_rows} a request")
    return rows


def _validated(adapter: TypeAdapter, rows: list) -> list:
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


async def _ingest(request: Request, conn, settings, now: datetime, adapter: TypeAdapter, to_record, write):
    """Authenticate, read within limits, validate, write through the ingest module."""
    service_id = await _authenticated_service(request, conn, settings)
    body = await _read_body(request, settings.max_body_bytes)
    rows = _validated(adapter, _parse_rows(body, request.headers.get("content-type", ""), settings.ingest_max_rows))
    records = [to_record(service_id, r) for r in rows]
    try:
        result = await write(conn, records, now=now, max_future=timedelta(seconds=settings.ingest_max_future_s))
    except service.IngestError as exc:
        raise _ingest_failed(exc) from None
    return IngestResponse(accepted=result.accepted, duplicates=result.duplicates, received=len(records))


@router.post(
    "/api/ingest/checks",
    response_model=IngestResponse,
    summary="Push check results (JSON array or NDJSON, up to 10,000 rows)",
)
async def ingest_checks(
    request: Request,
    conn=Depends(deps.connection),
    settings=Depends(deps.settings),
    now: datetime = Depends(deps.clock),
):
    return await _ingest(
        request,
        conn,
        settings,
        now,
        CHECKS,
        lambda sid, r: service.CheckRow(
            r.ts, sid, r.region, r.ok, r.status_code, r.latency_ms, r.error_type, r.error_message
        ),
        service.write_checks,
    )


@router.post(
    "/api/ingest/api-calls",
    response_model=IngestResponse,
    summary="Report real API calls (JSON array or NDJSON, up to 10,000 rows)",
)
async def ingest_api_calls(
    request: Request,
    conn=Depends(deps.connection),
    settings=Depends(deps.settings),
    now: datetime = Depends(deps.clock),
):
    return await _ingest(
        request,
        conn,
        settings,
        now,
        API_CALLS,
        lambda sid, r: service.ApiCallRow(r.ts, sid, r.endpoint, r.method, r.status_code, r.latency_ms, r.request_id),
        service.write_api_calls,
    )
