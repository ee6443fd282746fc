"""`POST /v1/traces`: the OTLP/HTTP trace receiver. Server spans become api_calls rows of the ingest
key's service (app/otlp/spans.py says how). Answers as the OTLP/HTTP specification asks: 200 with an
ExportTraceServiceResponse in the request's encoding (partial_success when spans were rejected), and
for a failure its status with, for a protobuf request, a protobuf google.rpc.Status (for JSON and
anything else, the API's error shape, whose `message` is Status's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from google.rpc import code_pb2, status_pb2
from pydantic import ConfigDict, Field

from app import deps
from app.config import Settings
from app.contract import ApiModel, errors
from app.errors import ApiError
from app.ingest.views import authenticated_service, read_body
from app.otlp import decode
from app.otlp import service as otlp

router = APIRouter(tags=["ingest"])

# google.rpc codes for the Status body of a failure (the specification does not use them; sent for tools)
GRPC_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    503: code_pb2.UNAVAILABLE,
}


class PartialSuccess(ApiModel):
    rejected_spans: str = Field(description="spans not stored (protobuf JSON writes an int64 as a string)")
    error_message: str = Field(description="why, span by span (the first few)")


class ExportTraceResponse(ApiModel):
    """ExportTraceServiceResponse in OTLP/JSON; a protobuf request gets it in protobuf."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {},
                {
                    "partialSuccess": {
                        "rejectedSpans": "1",
                        "errorMessage": "span 00f067aa0ba902b7: no http.response.status_code",
                    }
                },
            ]
        }
    )
    partial_success: PartialSuccess | None = None


def _failure(exc: ApiError, kind: str | None) -> Response:
    """A protobuf google.rpc.Status for a protobuf request; else the API's error shape (raised)."""
    if kind != decode.PROTOBUF:
        raise exc
    body = status_pb2.Status(code=GRPC_CODES.get(exc.status, code_pb2.UNKNOWN), message=exc.message)
    return Response(body.SerializeToString(), exc.status, headers=exc.headers, media_type=decode.PROTOBUF)


async def _export(request: Request, conn: asyncpg.Connection, settings: Settings, now: datetime, kind: str) -> bytes:
    service_id = await authenticated_service(request, conn, settings)
    gzipped = decode.check_encoding(request.headers.get("content-encoding", ""))
    body = await read_body(request, settings.max_body_bytes)
    if gzipped:
        body = decode.gunzip(body, settings.max_body_bytes)
    try:
        result = await otlp.export(
            conn,
            decode.parse(body, kind),
            service_id,
            now=now,
            max_future=timedelta(seconds=settings.ingest_max_future_s),
            max_spans=settings.ingest_max_rows,
        )
    except otlp.OtherService as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except otlp.TooManySpans as exc:
        raise ApiError(413, "payload_too_large", str(exc)) from None
    return decode.encode(decode.response(result.rejected, result.message), kind)


PROTOBUF_BODY: dict[str, Any] = {"description": "ExportTraceServiceResponse, protobuf-encoded"}


@router.post(
    "/v1/traces",
    response_model=ExportTraceResponse,
    responses={
        200: {"content": {decode.PROTOBUF: PROTOBUF_BODY}},
        **errors(
            400,
            401,
            403,
            413,
            415,
            e400={"error": "bad_request", "message": "body is not an OTLP ExportTraceServiceRequest: Error parsing"},
            e401={"error": "unauthorized", "message": "invalid ingest key"},
            e403={"error": "forbidden", "message": "the ingest key of 'payments' may not write spans of 'search'"},
            e413={"error": "payload_too_large", "message": "request body over 8388608 bytes"},
            e415={"error": "unsupported_media_type", "message": "Content-Type 'text/plain' is not OTLP/HTTP"},
        ),
    },
    summary="OTLP/HTTP trace receiver: server spans (protobuf or JSON, gzip) become the API calls of "
    "the ingest key's service",
)
async def export_traces(
    request: Request,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> Response:
    kind: str | None = None
    try:
        kind = decode.media_type(request.headers.get("content-type", ""))
        body = await _export(request, conn, settings, now, kind)
    except decode.BodyError as exc:
        return _failure(ApiError(exc.status, exc.error, str(exc)), kind)
    except ApiError as exc:
        return _failure(exc, kind)
    return Response(body, 200, media_type=kind)
