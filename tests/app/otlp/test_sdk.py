"""The real OpenTelemetry Python SDK exporting over OTLP/HTTP (protobuf, gzip) to a live API process:
its server spans appear in the service's usage and response times, and a retried export adds nothing."""

from __future__ import annotations

import asyncio
import math
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import httpx
import pandas as pd
import uvicorn
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app.main import create_app
from tests.app.ingest.conftest import new_key
from tests.conftest import free_port

SERVICE = "face-compare"
# (method, route, status, duration in ms) of the requests the instrumented service served
REQUESTS = [("GET", "/api/v1/agents", 200, 40 + 7 * i) for i in range(30)] + [
    ("POST", "/api/v1/agents/{id}/execute", 200, 900),
    ("POST", "/api/v1/agents/{id}/execute", 503, 1200),
    ("GET", "/api/v1/agents/{id}", 404, 15),
]


@asynccontextmanager
async def live_api(settings):
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await task


def served_spans(start: datetime) -> list[ReadableSpan]:
    """SERVER spans (and one CLIENT span, which is no request served) as an instrumented service makes them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE, "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.otlp")
    start_ns = int(start.timestamp() * 1e9)
    for i, (method, route, status, duration_ms) in enumerate(REQUESTS):
        began = start_ns + i * 1_000_000_000
        span = tracer.start_span(
            f"{method} {route}",
            kind=SpanKind.SERVER,
            start_time=began,
            attributes={"http.request.method": method, "http.route": route, "http.response.status_code": status},
        )
        with tracer.start_as_current_span("SELECT agents", kind=SpanKind.CLIENT, start_time=began):
            pass
        span.end(end_time=began + duration_ms * 1_000_000)
    provider.shutdown()
    return list(memory.get_finished_spans())


def export(base: str, key: str, spans: list[ReadableSpan]) -> SpanExportResult:
    exporter = OTLPSpanExporter(
        endpoint=f"{base}/v1/traces", headers={"Authorization": f"Bearer {key}"}, compression=Compression.Gzip
    )
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()


async def test_spans_exported_by_the_sdk_appear_in_usage_and_response_times(conn, settings):
    key = await new_key(conn, SERVICE)
    start = datetime.now(timezone.utc) - timedelta(minutes=10)  # the report of start's month is read
    spans = served_spans(start.replace(microsecond=0))
    assert len(spans) == 2 * len(REQUESTS)
    async with live_api(settings) as base:
        # the exporter is synchronous (requests): it runs in a thread beside the server's event loop
        assert await asyncio.to_thread(export, base, key, spans) == SpanExportResult.SUCCESS
        assert await asyncio.to_thread(export, base, key, spans) == SpanExportResult.SUCCESS  # a retry
        month = {"year": start.year, "month": start.month}
        async with httpx.AsyncClient(base_url=base) as http:
            usage = (await http.get(f"/api/sla/usage/{SERVICE}", params=month)).json()
            times = (await http.get(f"/api/sla/response-times/{SERVICE}", params=month)).json()

    expected = pd.DataFrame(REQUESTS, columns=["method", "route", "status", "latency_ms"])
    assert await conn.fetchval("SELECT count(*) FROM api_calls") == len(expected)
    assert usage["metrics"]["totalCalls"] == len(expected)
    assert usage["metrics"]["successfulCalls"] == int((expected.status == 200).sum())
    assert usage["metrics"]["errorCalls"] == int((expected.status >= 400).sum())
    assert usage["metrics"]["serverErrors"] == int((expected.status >= 500).sum())
    metrics = times["metrics"]
    assert metrics["totalRequests"] == len(expected)
    assert metrics["avgResponseTime"] == round(expected.latency_ms.mean())
    # nearest-rank percentiles (docs/sla-math.md): the value of rank ceil(q * n)
    ranked = expected.latency_ms.sort_values().reset_index(drop=True)
    for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
        assert metrics["percentiles"][name] == int(ranked.iloc[math.ceil(q * len(ranked)) - 1]), name
