"""POST /api/ingest/*: keys, formats, limits, row-named errors, replays."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from app.ingest.service import ensure_key

NOW = datetime(2025, 9, 1, tzinfo=timezone.utc)


@pytest.fixture
async def key(conn, settings):
    return await ensure_key(conn, settings.resolved_secret_key(), "face-compare")


def calls(n, start=NOW - timedelta(hours=1)):
    return [
        {
            "ts": (start + timedelta(seconds=i)).isoformat(),
            "status_code": 200 if i % 10 else 500,
            "latency_ms": 300 + i,
            "endpoint": "/v1/compare",
            "method": "POST",
            "request_id": f"req-{i}",
        }
        for i in range(n)
    ]


async def test_api_calls_json_array_then_replay(make_client, conn, key):
    client = await make_client(now=NOW)
    auth = {"Authorization": f"Bearer {key}"}
    first = await client.post("/api/ingest/api-calls", json=calls(500), headers=auth)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 500, "duplicates": 0, "received": 500}
    again = await client.post("/api/ingest/api-calls", json=calls(500), headers=auth)
    assert again.json() == {"accepted": 0, "duplicates": 500, "received": 500}
    assert await conn.fetchval("SELECT count(*) FROM api_calls WHERE service_id = 'face-compare'") == 500


async def test_checks_as_ndjson_default_to_the_push_region(make_client, conn, key):
    client = await make_client(now=NOW)
    lines = "\n".join(
        json.dumps(
            {
                "ts": (NOW - timedelta(minutes=i)).isoformat(),
                "ok": i != 3,
                "error_type": None if i != 3 else "timeout",
                "latency_ms": 120,
            }
        )
        for i in range(10)
    )
    response = await client.post(
        "/api/ingest/checks",
        content=lines,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"},
    )
    assert response.json() == {"accepted": 10, "duplicates": 0, "received": 10}
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE region = 'push' AND NOT ok") == 1


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer slk.face-compare.forged"])
async def test_missing_or_wrong_key_is_401_and_writes_nothing(make_client, conn, header):
    client = await make_client(now=NOW)
    headers = {"Authorization": header} if header else {}
    response = await client.post("/api/ingest/api-calls", json=calls(3), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert await conn.fetchval("SELECT count(*) FROM api_calls") == 0


async def test_a_key_writes_only_its_own_service(make_client, conn, key):
    client = await make_client(now=NOW)
    rows = calls(2)
    rows[0]["service_id"] = "id-recognition"  # not a field of the row: refused, not redirected
    response = await client.post("/api/ingest/api-calls", json=rows, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422
    assert response.json()["details"][0] == {
        "row": 0,
        "field": "service_id",
        "message": "Extra inputs are not permitted",
    }
    assert await conn.fetchval("SELECT count(*) FROM api_calls") == 0


@pytest.mark.parametrize(
    "mutate, row, field",
    [
        (lambda r: r[7].update(latency_ms=-1), 7, "latency_ms"),
        (lambda r: r[2].update(ts="2025-08-31T10:00:00"), 2, "ts"),  # no offset
        (lambda r: r[4].update(ts=(NOW + timedelta(days=3)).isoformat()), 4, "ts"),  # future
        (lambda r: r[1].update(status_code=700), 1, "status_code"),
        (lambda r: r[5].pop("status_code"), 5, "status_code"),
    ],
)
async def test_bad_row_is_422_naming_row_and_field_and_nothing_is_written(make_client, conn, key, mutate, row, field):
    client = await make_client(now=NOW)
    rows = calls(10)
    mutate(rows)
    response = await client.post("/api/ingest/api-calls", json=rows, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["details"][0]["row"], body["details"][0]["field"]) == (row, field)
    assert f"row {row}" in body["message"]
    assert await conn.fetchval("SELECT count(*) FROM api_calls") == 0


async def test_limits_are_413(make_client, key):
    client = await make_client(now=NOW, ingest_max_rows=100, max_body_bytes=64 * 1024)
    auth = {"Authorization": f"Bearer {key}"}
    assert (await client.post("/api/ingest/api-calls", json=calls(101), headers=auth)).status_code == 413
    huge = b"[" + b" " * (70 * 1024) + b"]"
    response = await client.post(
        "/api/ingest/api-calls", content=huge, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


@pytest.mark.parametrize(
    "body, ctype",
    [
        (b"{not json", "application/json"),
        (b'"a string"', "application/json"),
        (b'{"ts": "2025-08-31T10:00:00Z", "status_code": 200, "latency_ms": 1}\nnot json', "application/x-ndjson"),
        (b"\xff\xfe", "application/json"),
    ],
)
async def test_garbage_bodies_are_422_never_500(make_client, key, body, ctype):
    client = await make_client(now=NOW)
    response = await client.post(
        "/api/ingest/api-calls", content=body, headers={"Authorization": f"Bearer {key}", "Content-Type": ctype}
    )
    assert response.status_code == 422, response.text
