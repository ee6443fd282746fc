"""Issue 15: bodies and numbers no row could hold are a 422 naming the problem, never a 500, and
they take nothing already accepted with them."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.app.ingest.conftest import new_key

NOW = datetime(2025, 9, 1, tzinfo=timezone.utc)
HUGE = "9" * 5001


@pytest.fixture
async def auth(conn, settings):
    return {"Authorization": f"Bearer {await new_key(conn, 'face-compare')}"}


def call(i: int = 0) -> dict:
    return {
        "ts": (NOW - timedelta(minutes=10, seconds=i)).isoformat(),
        "status_code": 200,
        "latency_ms": 120,
        "endpoint": "/v1/compare",
        "method": "POST",
        "request_id": f"req-{i}",
    }


async def _accepted_before(client, auth, conn) -> None:
    response = await client.post("/api/ingest/api-calls", json=[call(i) for i in range(3)], headers=auth)
    assert response.status_code == 200, response.text
    assert await conn.fetchval("SELECT count(*) FROM api_calls") == 3


@pytest.mark.parametrize("ctype", ["application/json", "application/x-ndjson"])
async def test_a_100000_deep_array_is_422_and_loses_nothing(make_client, conn, auth, ctype):
    client = await make_client(now=NOW)
    await _accepted_before(client, auth, conn)
    deep = "[" * 100_000 + "]" * 100_000
    response = await client.post("/api/ingest/api-calls", content=deep, headers={**auth, "Content-Type": ctype})
    assert response.status_code == 422, response.text
    assert "nested too deeply" in response.json()["message"]
    assert await conn.fetchval("SELECT count(*) FROM api_calls") == 3
    assert (await client.post("/api/ingest/api-calls", json=[call(7)], headers=auth)).status_code == 200


@pytest.mark.parametrize("field", ["latency_ms", "status_code", "ts"])
async def test_a_5001_digit_number_is_422_naming_row_and_field(make_client, conn, auth, field):
    client = await make_client(now=NOW)
    await _accepted_before(client, auth, conn)
    rows = [json.dumps(call(10 + i)) for i in range(3)]
    rows[1] = json.dumps({**call(11), field: "HUGE"}).replace('"HUGE"', HUGE)
    body = "[" + ",".join(rows) + "]"
    response = await client.post(
        "/api/ingest/api-calls", content=body, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    detail = response.json()["details"][0]
    assert (detail["row"], detail["field"]) == (1, field)
    assert "5001" in detail["message"] and "out of range" in detail["message"]
    assert await conn.fetchval("SELECT count(*) FROM api_calls") == 3


@pytest.mark.parametrize("value", ["1e400", "-1e400", "1.5", "2147483648", "-1"])
async def test_other_numbers_out_of_an_int_field_are_422(make_client, conn, auth, value):
    client = await make_client(now=NOW)
    body = json.dumps([call()]).replace('"latency_ms": 120', f'"latency_ms": {value}')
    response = await client.post(
        "/api/ingest/api-calls", content=body, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "latency_ms"
    assert await conn.fetchval("SELECT count(*) FROM api_calls") == 0
