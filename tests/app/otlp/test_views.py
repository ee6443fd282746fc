"""POST /v1/traces as the OTLP/HTTP specification asks: protobuf and OTLP/JSON (hex ids), gzip, partial
success naming the rejected spans, replays stored once, and each failure with its status and body."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.app.ingest.conftest import new_key

NOW = datetime(2025, 9, 1, tzinfo=timezone.utc)
START_NS = int((NOW - timedelta(hours=1)).timestamp()) * 1_000_000_000
PROTOBUF = {"Content-Type": "application/x-protobuf"}
SERVICE = "face-compare"


def attr(key: str, value: str | int) -> KeyValue:
    return KeyValue(
        key=key, value=AnyValue(string_value=value) if isinstance(value, str) else AnyValue(int_value=value)
    )


def span(
    n: int, *, status: int | None = 200, kind=Span.SPAN_KIND_SERVER, duration_ns=12_345_678, start_ns=START_NS, **extra
) -> Span:
    attributes = [attr("http.request.method", "GET"), attr("http.route", "/api/v1/agents/{id}")]
    if status is not None:
        attributes.append(attr("http.response.status_code", status))
    attributes += [attr(k.replace("_", "."), v) for k, v in extra.items()]
    return Span(
        trace_id=bytes.fromhex("5b8efff798038103d269b633813fc60c"),
        span_id=(n + 1).to_bytes(8, "big"),
        name="GET /api/v1/agents/{id}",
        kind=kind,
        start_time_unix_nano=start_ns + n * 1_000_000_000,
        end_time_unix_nano=start_ns + n * 1_000_000_000 + duration_ns,
        attributes=attributes,
    )


def export(spans: list[Span], service_name: str | None = SERVICE, **resource: str) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    if service_name is not None:
        resource_spans.resource.attributes.append(attr("service.name", service_name))
    for key, value in resource.items():
        resource_spans.resource.attributes.append(attr(key, value))
    resource_spans.scope_spans.add().spans.extend(spans)
    return request


@pytest.fixture
async def client(make_client, conn):
    client = await make_client(now=NOW)
    client.headers["Authorization"] = f"Bearer {await new_key(conn, SERVICE)}"
    return client


async def rows(conn):
    return [
        dict(r)
        for r in await conn.fetch(
            "SELECT ts, service_id, endpoint, method, status_code, latency_ms, request_id FROM api_calls ORDER BY ts"
        )
    ]


async def test_protobuf_server_spans_become_api_calls_and_a_replay_is_stored_once(client, conn):
    body = export([span(0), span(1, status=503, duration_ns=1_499_999), span(2, kind=Span.SPAN_KIND_CLIENT)])
    for _ in range(2):
        response = await client.post("/v1/traces", content=body.SerializeToString(), headers=PROTOBUF)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/x-protobuf"
        assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
    stored = await rows(conn)
    assert stored == [
        {
            "ts": NOW - timedelta(hours=1),
            "service_id": SERVICE,
            "endpoint": "/api/v1/agents/{id}",
            "method": "GET",
            "status_code": 200,
            "latency_ms": 12,  # 12.345678 ms rounded half up
            "request_id": "5b8efff798038103d269b633813fc60c0000000000000001",
        },
        {
            "ts": NOW - timedelta(hours=1) + timedelta(seconds=1),
            "service_id": SERVICE,
            "endpoint": "/api/v1/agents/{id}",
            "method": "GET",
            "status_code": 503,
            "latency_ms": 1,  # 1.499999 ms
            "request_id": "5b8efff798038103d269b633813fc60c0000000000000002",
        },
    ]


async def test_otlp_json_with_hex_ids_and_gzip(client, conn):
    """The specification's JSON: hex ids (not base64), enum as a number, int64 as a string, unknown
    fields ignored."""
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": SERVICE}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "my.library", "version": "1.0.0"},
                        "spans": [
                            {
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "EEE19B7EC3C1B174",
                                "parentSpanId": "EEE19B7EC3C1B173",
                                "name": "POST /execute",
                                "kind": 2,
                                "startTimeUnixNano": str(START_NS),
                                "endTimeUnixNano": str(START_NS + 840_500_000),
                                "attributes": [
                                    {"key": "http.request.method", "value": {"stringValue": "POST"}},
                                    {"key": "http.route", "value": {"stringValue": "/api/v1/agents/{id}/execute"}},
                                    {"key": "http.response.status_code", "value": {"intValue": "201"}},
                                ],
                                "aFieldOfTomorrow": {"x": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    response = await client.post(
        "/v1/traces",
        content=gzip.compress(json.dumps(document).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json" and response.json() == {}
    [row] = await rows(conn)
    assert row["request_id"] == "5b8efff798038103d269b633813fc60ceee19b7ec3c1b174"
    assert (row["method"], row["endpoint"], row["status_code"], row["latency_ms"]) == (
        "POST",
        "/api/v1/agents/{id}/execute",
        201,
        841,
    )


async def test_spans_that_cannot_map_are_a_partial_success_naming_them(client, conn):
    spans = [
        span(0),
        span(1, status=None),
        span(2, start_ns=START_NS + 3 * 3600 * 1_000_000_000),  # 2 h after now: the future
        span(3, status=999),
    ]
    response = await client.post("/v1/traces", content=export(spans).SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 3
    assert "span 0000000000000002: no http.response.status_code" in partial.error_message
    assert "span 0000000000000003: ts:" in partial.error_message and "in the future" in partial.error_message
    assert "span 0000000000000004: status_code: 999 is not an HTTP status" in partial.error_message
    assert [r["request_id"][-1] for r in await rows(conn)] == ["1"]


async def test_older_semantic_conventions_and_the_service_attribute(client, conn):
    old = Span(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=START_NS,
        end_time_unix_nano=START_NS + 5_000_000,
        attributes=[attr("http.method", "DELETE"), attr("http.status_code", 404)],
    )
    # service.name says what the code calls itself; slamon.service.id maps it to this service
    body = export([old], service_name="agents-api", **{"slamon.service.id": SERVICE})
    response = await client.post("/v1/traces", content=body.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200 and response.content == b""
    [row] = await rows(conn)
    assert (row["method"], row["endpoint"], row["status_code"], row["latency_ms"]) == ("DELETE", "", 404, 5)


async def test_without_a_service_name_spans_are_the_keys_service(client, conn):
    for name in (None, "unknown_service:python"):
        body = export([span(0 if name else 1)], service_name=name)
        assert (await client.post("/v1/traces", content=body.SerializeToString(), headers=PROTOBUF)).status_code == 200
    assert {r["service_id"] for r in await rows(conn)} == {SERVICE}
    assert len(await rows(conn)) == 2


async def test_a_key_writes_only_its_service(client, conn):
    only_other = export([span(0)], service_name="id-recognition")
    response = await client.post("/v1/traces", content=only_other.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 403
    assert "may not write spans of 'id-recognition'" in status_pb2.Status.FromString(response.content).message
    mixed = export([span(1)])
    mixed.resource_spans.append(only_other.resource_spans[0])
    response = await client.post("/v1/traces", content=mixed.SerializeToString(), headers=PROTOBUF)
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert response.status_code == 200 and partial.rejected_spans == 1
    assert "'id-recognition' is not the ingest key's service 'face-compare'" in partial.error_message
    assert {r["service_id"] for r in await rows(conn)} == {SERVICE} and len(await rows(conn)) == 1


@pytest.mark.parametrize(
    "content, headers, status, error",
    [
        (b"\xff\xff\xff", PROTOBUF, 400, "bad_request"),
        (b"{not json", {"Content-Type": "application/json"}, 400, "bad_request"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}',
            {"Content-Type": "application/json"},
            400,
            "bad_request",
        ),
        (b'{"resourceSpans": "many"}', {"Content-Type": "application/json"}, 400, "bad_request"),
        (b"not gzip", {**PROTOBUF, "Content-Encoding": "gzip"}, 400, "bad_request"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b"{}", {"Content-Type": "application/json", "Content-Encoding": "br"}, 415, "unsupported_media_type"),
    ],
)
async def test_bodies_that_cannot_be_taken(client, conn, content, headers, status, error):
    response = await client.post("/v1/traces", content=content, headers=headers)
    assert response.status_code == status, response.text
    if headers["Content-Type"] == "application/x-protobuf":
        assert status_pb2.Status.FromString(response.content).message
    else:
        assert response.json()["error"] == error
    assert await rows(conn) == []


async def test_the_json_error_names_the_bad_id(client):
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "5b8e", "spanId": "zz"}]}]}]}
    response = await client.post("/v1/traces", json=body)
    assert response.status_code == 400
    assert "resourceSpans[0].scopeSpans[0].spans[0].spanId: 'zz' is not a hex id" in response.json()["message"]


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer slk.face-compare.forged"])
async def test_without_a_valid_key_401(make_client, conn, header):
    client = await make_client(now=NOW)
    headers = {**PROTOBUF, **({"Authorization": header} if header else {})}
    response = await client.post("/v1/traces", content=export([span(0)]).SerializeToString(), headers=headers)
    assert response.status_code == 401
    assert "ingest key" in status_pb2.Status.FromString(response.content).message
    assert await rows(conn) == []


async def test_size_limits_are_413_compressed_or_not(make_client, conn):
    client = await make_client(now=NOW, max_body_bytes=64 * 1024, ingest_max_rows=10)
    client.headers["Authorization"] = f"Bearer {await new_key(conn, SERVICE)}"
    big = export([span(0, padding="x" * 100_000)]).SerializeToString()
    assert (await client.post("/v1/traces", content=big, headers=PROTOBUF)).status_code == 413
    compressed = gzip.compress(big)
    assert len(compressed) < 64 * 1024
    response = await client.post("/v1/traces", content=compressed, headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed" in status_pb2.Status.FromString(response.content).message
    many = export([span(n) for n in range(11)]).SerializeToString()
    response = await client.post("/v1/traces", content=many, headers=PROTOBUF)
    assert response.status_code == 413 and "11 server spans" in status_pb2.Status.FromString(response.content).message
    assert await rows(conn) == []
