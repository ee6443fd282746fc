"""The one writer: idempotent batches, row-named errors, invalidation logged with the rows."""

from datetime import datetime, timedelta, timezone

import pytest

from app.ingest.service import (
    ApiCallRow,
    CheckRow,
    IngestError,
    authenticate,
    derive_key,
    ensure_key,
    write_api_calls,
    write_checks,
)

T0 = datetime(2025, 8, 1, tzinfo=timezone.utc)
NOW = datetime(2025, 9, 1, tzinfo=timezone.utc)


def checks(n, service="id-recognition", region="seoul"):
    return [
        CheckRow(T0 + timedelta(minutes=i), service, region, i % 7 != 0, 200, 100 + i, None if i % 7 else "http_error")
        for i in range(n)
    ]


async def test_replayed_batch_changes_nothing(conn):
    first = await write_checks(conn, checks(100), now=NOW)
    again = await write_checks(conn, checks(100), now=NOW)
    assert (first.accepted, first.duplicates) == (100, 0)
    assert (again.accepted, again.duplicates) == (0, 100)
    assert await conn.fetchval("SELECT count(*) FROM checks") == 100


async def test_same_slot_from_two_regions_is_two_rows(conn):
    await write_checks(conn, checks(10, region="seoul") + checks(10, region="virginia"), now=NOW)
    assert await conn.fetchval("SELECT count(DISTINCT ts) FROM checks") == 10
    assert await conn.fetchval("SELECT count(*) FROM checks") == 20


async def test_slot_timestamps_are_whole_seconds(conn):
    row = CheckRow(T0 + timedelta(seconds=5, microseconds=250_000), "face-compare", "seoul", True, 200, 80)
    await write_checks(conn, [row], now=NOW)
    await write_checks(conn, [row._replace(ts=T0 + timedelta(seconds=5, microseconds=900_000))], now=NOW)
    assert await conn.fetchval("SELECT ts FROM checks") == T0 + timedelta(seconds=5)
    assert await conn.fetchval("SELECT count(*) FROM checks") == 1


@pytest.mark.parametrize(
    "bad, field",
    [
        (dict(service_id="no-such-service"), "service_id"),
        (dict(latency_ms=-5), "latency_ms"),
        (dict(ts=NOW + timedelta(days=2)), "ts"),
        (dict(ts=datetime(2025, 8, 1)), "ts"),
        (dict(ok=False, error_type=None), "error_type"),
        (dict(error_type="gremlins"), "error_type"),
        (dict(status_code=42), "status_code"),
        (dict(region=""), "region"),
    ],
)
async def test_bad_row_refuses_the_batch_and_names_row_and_field(conn, bad, field):
    rows = checks(5)
    rows[3] = rows[3]._replace(**bad)
    with pytest.raises(IngestError) as caught:
        await write_checks(conn, rows, now=NOW)
    assert [(e.row, e.field) for e in caught.value.errors] == [(3, field)]
    assert f"row 3: {field}" in str(caught.value)
    assert await conn.fetchval("SELECT count(*) FROM checks") == 0


async def test_batch_range_is_logged_for_the_rollups_in_the_same_transaction(conn):
    await write_checks(conn, checks(30) + checks(10, service="face-liveness"), now=NOW)
    rows = await conn.fetch("SELECT service_id, lo, hi FROM rollup_invalidations WHERE raw_table = 'checks' ORDER BY 1")
    assert [(r["service_id"], r["lo"]) for r in rows] == [("face-liveness", T0), ("id-recognition", T0)]
    assert rows[1]["hi"] > T0 + timedelta(minutes=29)


async def test_replayed_request_id_is_stored_once(conn):
    calls = [
        ApiCallRow(T0 + timedelta(seconds=i), "face-compare", "/v1/compare", "POST", 200, 300, f"req-{i}")
        for i in range(50)
    ]
    anonymous = [ApiCallRow(T0, "face-compare", "/v1/compare", "POST", 500, 9000)]
    first = await write_api_calls(conn, calls + anonymous, now=NOW)
    again = await write_api_calls(conn, calls, now=NOW)
    assert (first.accepted, again.accepted, again.duplicates) == (51, 0, 50)
    assert await conn.fetchval("SELECT count(*) FROM api_calls") == 51


async def test_ingest_key_is_stable_scoped_and_unforgeable(conn):
    key = await ensure_key(conn, "s3cret", "face-compare")
    assert key == await ensure_key(conn, "s3cret", "face-compare")
    assert await authenticate(conn, "s3cret", key) == "face-compare"
    assert await authenticate(conn, "other-secret", key) is None
    forged = key.replace("face-compare", "id-recognition", 1)
    assert await authenticate(conn, "s3cret", forged) is None
    assert await authenticate(conn, "s3cret", derive_key("s3cret", "id-liveness", 1)) is None  # never created
    assert await authenticate(conn, "s3cret", "garbage") is None
