"""An OTLP/HTTP request body as the specification defines it: binary protobuf or OTLP/JSON, optionally
gzip-compressed, decoded with the official messages (opentelemetry-proto) — never a parser of ours.

OTLP/JSON is protobuf's JSON mapping with one exception: trace and span ids are hex strings, not
base64. json_format would take hex for base64 without complaint (every hex digit is a base64
character) and store the wrong bytes, so the ids are rewritten to base64 before it parses."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ID_FIELDS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")


class BodyError(ValueError):
    """The body cannot be taken: `status` is the HTTP status the specification gives for it."""

    def __init__(self, status: int, error: str, message: str) -> None:
        self.status, self.error = status, error
        super().__init__(message)


def media_type(content_type: str) -> str:
    """The request's encoding (PROTOBUF or JSON), or BodyError 415."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise BodyError(
            415,
            "unsupported_media_type",
            f"Content-Type {kind or '(none)'!r} is not OTLP/HTTP: send {PROTOBUF} or {JSON}",
        )
    return kind


def check_encoding(content_encoding: str) -> bool:
    """Whether the body is gzip-compressed; BodyError 415 for a coding the receiver does not take."""
    coding = content_encoding.strip().lower()
    if coding not in ("", "identity", "gzip"):
        raise BodyError(415, "unsupported_media_type", f"Content-Encoding {coding!r}: send gzip or none")
    return coding == "gzip"


def gunzip(body: bytes, limit: int) -> bytes:
    """The decompressed body, refused past `limit` bytes (413) so a small bomb cannot fill memory."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
    try:
        data = inflater.decompress(body, limit + 1)
        if len(data) > limit:
            raise BodyError(413, "payload_too_large", f"decompressed request body over {limit} bytes")
        if not inflater.eof:
            raise BodyError(400, "bad_request", "gzip body is truncated")
    except zlib.error as exc:
        raise BodyError(400, "bad_request", f"body is not valid gzip: {exc}") from None
    return data


def _hex_to_base64(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value  # json_format names the wrong type
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        raise BodyError(
            400, "bad_request", f"{where}: {value[:40]!r} is not a hex id (OTLP/JSON ids are hex)"
        ) from None


def _ids_to_base64(item: Any, where: str) -> None:
    if isinstance(item, dict):
        for name in ID_FIELDS:
            if name in item:
                item[name] = _hex_to_base64(item[name], f"{where}.{name}")


def _list(parent: Any, *names: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    for name in names:
        value = parent.get(name)
        if isinstance(value, list):
            return value
    return []


def _json_ids_as_base64(document: Any) -> None:
    for r, resource_spans in enumerate(_list(document, "resourceSpans", "resource_spans")):
        for s, scope_spans in enumerate(_list(resource_spans, "scopeSpans", "scope_spans")):
            for n, span in enumerate(_list(scope_spans, "spans")):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                _ids_to_base64(span, where)
                for k, link in enumerate(_list(span, "links")):
                    _ids_to_base64(link, f"{where}.links[{k}]")


def parse(body: bytes, kind: str) -> ExportTraceServiceRequest:
    """The ExportTraceServiceRequest of a body; BodyError 400 naming what could not be decoded."""
    request = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise BodyError(400, "bad_request", f"body is not an OTLP ExportTraceServiceRequest: {exc}") from None
        return request
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BodyError(400, "bad_request", f"body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BodyError(400, "bad_request", "body must be a JSON object (an ExportTraceServiceRequest)")
    _json_ids_as_base64(document)
    try:
        # unknown fields are ignored, as the specification asks of receivers (newer senders add fields)
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError) as exc:
        raise BodyError(400, "bad_request", f"body is not an OTLP/JSON ExportTraceServiceRequest: {exc}") from None
    return request


def response(rejected_spans: int, message: str) -> ExportTraceServiceResponse:
    """The answer: empty when every span was taken, else partial_success with the count and why."""
    answer = ExportTraceServiceResponse()
    if rejected_spans:
        answer.partial_success.rejected_spans = rejected_spans
        answer.partial_success.error_message = message
    return answer


def encode(message: Any, kind: str) -> bytes:
    """A protobuf message in the request's encoding (the specification answers in the same one)."""
    if kind == PROTOBUF:
        data: bytes = message.SerializeToString()
        return data
    return json.dumps(json_format.MessageToDict(message), separators=(",", ":")).encode()
