"""OTLP trace exports into api_calls, through the one writer (app.ingest.service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from app.ingest import service as ingest
from app.otlp.spans import Mapped, map_spans


class OtherService(PermissionError):
    """Every resource of the request names a service other than the ingest key's."""


class TooManySpans(ValueError):
    """More server spans in one request than the ingest's row limit."""


@dataclass
class ExportResult:
    accepted: int
    duplicates: int
    rejected: int
    message: str


def _drop_invalid(mapped: Mapped, now: datetime, max_future: timedelta) -> None:
    """Reject the rows the writer would refuse (a start in the future, a status out of range, ...), so
    one bad span does not refuse the others: OTLP answers a partial success instead."""
    bad = ingest.refused_api_calls(mapped.rows, now, max_future)
    if not bad:
        return
    for index, problem in sorted(bad.items()):
        mapped.reject(mapped.span_ids[index], problem)
    mapped.rows = [row for index, row in enumerate(mapped.rows) if index not in bad]
    mapped.span_ids = [span for index, span in enumerate(mapped.span_ids) if index not in bad]


async def export(
    conn: asyncpg.Connection,
    request: ExportTraceServiceRequest,
    key_service: str,
    *,
    now: datetime,
    max_future: timedelta,
    max_spans: int,
) -> ExportResult:
    """Write the request's server spans of the key's service; say how many were rejected and why."""
    mapped = map_spans(request, key_service)
    if mapped.other_services and not mapped.own_resources:
        names = ", ".join(repr(name) for name in sorted(mapped.other_services))
        raise OtherService(
            f"the ingest key of {key_service!r} may not write spans of {names} (resource service.name or "
            "slamon.service.id): send each service's spans with its own key"
        )
    if len(mapped.rows) > max_spans:
        raise TooManySpans(f"{len(mapped.rows)} server spans; at most {max_spans} a request")
    _drop_invalid(mapped, now, max_future)
    result = await ingest.write_api_calls(conn, mapped.rows, now=now, max_future=max_future)
    return ExportResult(result.accepted, result.duplicates, mapped.rejected, mapped.message())
