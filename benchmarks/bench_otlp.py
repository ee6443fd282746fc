"""API calls per second from OpenTelemetry spans and access-log lines, against the same rows written
straight through the ingest module (`write_api_calls`, the baseline): what decoding a protobuf or
OTLP/JSON ExportTraceServiceRequest and mapping its server spans (app/otlp), or parsing nginx lines
(app/accesslogs), adds to the one writer. Requests of 512 spans (the SDK's default batch), best of
ROUNDS, each from an empty table.

usage: bench_otlp.py [SPANS [ROUNDS]]   (env BENCH_OTLP_SPANS=100000, BENCH_OTLP_ROUNDS=2)
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from common import connect, emit, int_setting, log, machine, rate, scratch_database, utc_now

from app.accesslogs.service import import_file
from app.ingest.service import write_api_calls
from app.otlp import decode
from app.otlp import service as otlp
from app.otlp.spans import map_spans

SPANS_PER_REQUEST = 512
EMPTY_TABLES = "TRUNCATE api_calls, rollup_invalidations"


def _attr(key: str, value: str | int) -> KeyValue:
    return KeyValue(
        key=key, value=AnyValue(string_value=value) if isinstance(value, str) else AnyValue(int_value=value)
    )


def requests(service_id: str, spans: int, start_ns: int) -> list[ExportTraceServiceRequest]:
    """Export requests of server spans, as an instrumented web service sends them."""
    batches = []
    for first in range(0, spans, SPANS_PER_REQUEST):
        request = ExportTraceServiceRequest()
        resource = request.resource_spans.add()
        resource.resource.attributes.append(_attr("service.name", service_id))
        scope = resource.scope_spans.add()
        for n in range(first, min(spans, first + SPANS_PER_REQUEST)):
            began = start_ns + n * 1_000_000
            scope.spans.append(
                Span(
                    trace_id=n.to_bytes(16, "big"),
                    span_id=(n + 1).to_bytes(8, "big"),
                    name="GET /api/v1/agents/{id}",
                    kind=Span.SPAN_KIND_SERVER,
                    start_time_unix_nano=began,
                    end_time_unix_nano=began + (20 + n % 400) * 1_000_000,
                    attributes=[
                        _attr("http.request.method", "GET"),
                        _attr("http.route", "/api/v1/agents/{id}"),
                        _attr("http.response.status_code", 500 if n % 50 == 0 else 200),
                        _attr("url.path", f"/api/v1/agents/{n}"),
                    ],
                )
            )
        batches.append(request)
    return batches


async def _timed(conn, work) -> float:
    await conn.execute(EMPTY_TABLES)
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def _round(conn, service_id, bodies, rows, log_path, now) -> dict[str, float]:
    limits = {"now": now, "max_future": timedelta(seconds=60)}

    async def baseline():
        for batch in rows:
            await write_api_calls(conn, batch, **limits)

    async def export(kind):
        for body in bodies[kind]:
            await otlp.export(conn, decode.parse(body, kind), service_id, max_spans=10_000, **limits)

    async def access_log():
        await import_file(conn, log_path, service_id, "nginx", now=now)

    return {
        "baseline": await _timed(conn, baseline),
        "protobuf": await _timed(conn, lambda: export(decode.PROTOBUF)),
        "json": await _timed(conn, lambda: export(decode.JSON)),
        "nginx": await _timed(conn, access_log),
    }


async def main() -> None:
    spans = int_setting(1, "BENCH_OTLP_SPANS", 100_000)
    rounds = int_setting(2, "BENCH_OTLP_ROUNDS", 2)
    async with scratch_database("otlp") as (url, service_ids):
        service_id = service_ids[0]
        now = utc_now()
        start = now - timedelta(hours=1)
        batch = requests(service_id, spans, int(start.timestamp()) * 1_000_000_000)
        bodies = {
            decode.PROTOBUF: [r.SerializeToString() for r in batch],
            # OTLP/JSON carries hex ids where protobuf's JSON mapping has base64 (the receiver converts them)
            decode.JSON: [_hex_ids(json_format.MessageToJson(r).encode()) for r in batch],
        }
        rows = [map_spans(r, service_id).rows for r in batch]
        started = time.perf_counter()
        for body in bodies[decode.PROTOBUF]:
            map_spans(decode.parse(body, decode.PROTOBUF), service_id)
        decode_s = time.perf_counter() - started
        with TemporaryDirectory() as folder:
            log_path = Path(folder) / "access.log"
            log_path.write_text(_nginx_lines(start, spans))
            conn = await connect(url)
            try:
                samples = [await _round(conn, service_id, bodies, rows, log_path, now) for _ in range(rounds)]
                stored = await conn.fetchval("SELECT count(*) FROM api_calls")
            finally:
                await conn.close()
        if stored != spans:
            raise SystemExit(f"the access log wrote {stored} of {spans} rows")
        best = {name: min(s[name] for s in samples) for name in samples[0]}
        log(", ".join(f"{name}: {rate(spans, s)}/s" for name, s in best.items()))
    emit(
        {
            "bench": "otlp",
            "spans": spans,
            "spans_per_request": SPANS_PER_REQUEST,
            "rounds": rounds,
            "write_api_calls_rows_per_s": rate(spans, best["baseline"]),
            "otlp_protobuf_spans_per_s": rate(spans, best["protobuf"]),
            "otlp_json_spans_per_s": rate(spans, best["json"]),
            "nginx_lines_per_s": rate(spans, best["nginx"]),
            "protobuf_decode_map_only_spans_per_s": rate(spans, decode_s),
            **machine(),
        }
    )


def _hex_ids(body: bytes) -> bytes:
    document = json.loads(body)
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for name in ("traceId", "spanId"):
                    span[name] = base64.b64decode(span[name]).hex()
    return json.dumps(document).encode()


def _nginx_lines(start, count: int) -> str:
    lines = []
    for n in range(count):
        ended = start + timedelta(milliseconds=n)
        lines.append(
            f'203.0.113.{n % 250} - - [{ended.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "GET /api/v1/agents/{n} HTTP/1.1" '
            f'{500 if n % 50 == 0 else 200} 612 "-" "bench/1.0" {(20 + n % 400) / 1000:.3f}'
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    asyncio.run(main())
