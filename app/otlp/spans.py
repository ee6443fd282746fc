"""Server spans to api_calls rows: one row per SERVER span, the rest of a trace ignored.

- method: `http.request.method` (older instrumentations: `http.method`);
- endpoint: `http.route` (the route template, so that rows group by endpoint; "" without one);
- status: `http.response.status_code` (older: `http.status_code`); a server span without one is rejected;
- ts: the span's start; latency: end - start, rounded half up to whole milliseconds;
- request_id: trace id + span id in hex (48 characters), so a retried export is stored once
  (api_calls are unique on service, request_id and ts, and a span keeps its ids and start);
- service: the resource's `slamon.service.id`, else its `service.name`, else (no name, or the SDK's
  default `unknown_service…`) the service of the ingest key. A key writes only its own service's rows:
  spans of resources naming another service are rejected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from app.ingest.service import ApiCallRow

SERVICE_ID_ATTRIBUTE = "slamon.service.id"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NANOS_PER_MS = 1_000_000
SHOWN_PROBLEMS = 5  # in partial_success's message; the count covers every rejected span


@dataclass
class Mapped:
    """What a request gives: rows to write, what was rejected and why, services named beside the key's."""

    rows: list[ApiCallRow] = field(default_factory=list)
    span_ids: list[str] = field(default_factory=list)  # of each row, to name it when the writer refuses it
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    other_services: set[str] = field(default_factory=set)
    own_resources: int = 0  # resources with spans that map to the key's service

    def reject(self, span_id: str, problem: str) -> None:
        self.rejected += 1
        if len(self.problems) < SHOWN_PROBLEMS:
            self.problems.append(f"span {span_id or '(no id)'}: {problem}")

    def message(self) -> str:
        more = self.rejected - len(self.problems)
        return "; ".join(self.problems) + (f" (and {more} more)" if more > 0 else "")


def _value(value: AnyValue) -> str | int | None:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    return None


def attributes(pairs: Iterable[KeyValue]) -> dict[str, str | int | None]:
    """An attribute list as a dict (the last of a repeated key wins, as the SDKs do)."""
    return {pair.key: _value(pair.value) for pair in pairs}


def service_of(resource: dict[str, str | int | None], key_service: str) -> str:
    """The service id a resource's spans belong to (module docstring)."""
    named = resource.get(SERVICE_ID_ATTRIBUTE) or resource.get("service.name")
    if not isinstance(named, str) or not named or named.startswith("unknown_service"):
        return key_service
    return named


def _status(value: str | int | None) -> int | None:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int) else None


def _row(span: Span, service_id: str) -> ApiCallRow | str:
    """The row of a server span, or what is wrong with it."""
    attrs = attributes(span.attributes)
    method = attrs.get("http.request.method") or attrs.get("http.method")
    status = _status(attrs.get("http.response.status_code") or attrs.get("http.status_code"))
    route = attrs.get("http.route") or ""
    if len(span.trace_id) != 16 or len(span.span_id) != 8 or not any(span.trace_id) or not any(span.span_id):
        return "needs a 16-byte trace id and an 8-byte span id (they make the row's request_id)"
    if not isinstance(method, str) or not method:
        return "no http.request.method"
    if status is None:
        return "no http.response.status_code"
    if not isinstance(route, str):
        return "http.route is not a string"
    if not span.start_time_unix_nano or span.end_time_unix_nano < span.start_time_unix_nano:
        return "needs a start time and an end time not before it"
    duration_ns = span.end_time_unix_nano - span.start_time_unix_nano
    return ApiCallRow(
        ts=EPOCH + timedelta(microseconds=span.start_time_unix_nano // 1000),
        service_id=service_id,
        endpoint=route,
        method=method,
        status_code=status,
        latency_ms=(duration_ns + NANOS_PER_MS // 2) // NANOS_PER_MS,
        request_id=span.trace_id.hex() + span.span_id.hex(),
    )


def map_spans(request: ExportTraceServiceRequest, key_service: str) -> Mapped:
    """Rows of the request's server spans for the key's service; every other server span rejected."""
    mapped = Mapped()
    for resource_spans in request.resource_spans:
        spans = [span for scope in resource_spans.scope_spans for span in scope.spans]
        if not spans:
            continue
        service_id = service_of(attributes(resource_spans.resource.attributes), key_service)
        if service_id != key_service:
            mapped.other_services.add(service_id)
        else:
            mapped.own_resources += 1
        for span in spans:
            if span.kind != Span.SPAN_KIND_SERVER:
                continue  # client, internal, producer and consumer spans are not requests served
            if service_id != key_service:
                mapped.reject(
                    span.span_id.hex(),
                    f"service {service_id!r} is not the ingest key's service {key_service!r} (send it with "
                    f"{service_id!r}'s key, or set the resource attribute {SERVICE_ID_ATTRIBUTE}={key_service})",
                )
                continue
            row = _row(span, service_id)
            if isinstance(row, str):
                mapped.reject(span.span_id.hex(), row)
            else:
                mapped.rows.append(row)
                mapped.span_ids.append(span.span_id.hex())
    return mapped
