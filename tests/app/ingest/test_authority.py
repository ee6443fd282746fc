"""Issue 14 §3: a service's own ingest key cannot overrule the probers' record of its outages —
no pushed check rows for a probed service, no invented regions, no future slots."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from app.ingest.service import CheckRow, IngestError, write_checks
from prober.fleet import Fleet
from tests.app.ingest.conftest import new_key

NOW = datetime(2025, 9, 1, tzinfo=timezone.utc)


async def _auth(conn, settings, service_id):
    return {"Authorization": f"Bearer {await new_key(conn, service_id)}"}


def pushed(n, start=NOW - timedelta(minutes=30), region="push", ok=True):
    return [
        {
            "ts": (start + timedelta(minutes=i)).isoformat(),
            "ok": ok,
            "latency_ms": 90,
            "region": region,
            **({} if ok else {"error_type": "timeout"}),
        }
        for i in range(n)
    ]


async def test_pushed_checks_for_a_probed_service_are_refused_and_the_outage_stays(make_client, conn, settings):
    start = NOW - timedelta(minutes=7)
    # The prober's record: the target never answered.
    await write_checks(
        conn,
        [
            CheckRow(
                start + timedelta(minutes=i),
                "face-compare",
                "seoul",
                False,
                None,
                30_000,
                "connection_error",
                "Cannot connect to host",
            )
            for i in range(7)
        ],
        now=NOW,
    )
    client = await make_client(now=NOW)
    auth = await _auth(conn, settings, "face-compare")
    for region in ("seoul", "made-up-1", "made-up-2", "push"):
        response = await client.post("/api/ingest/checks", json=pushed(7, start, region), headers=auth)
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["error"] == "probed_service"
        assert "'face-compare'" in body["message"] and "probed" in body["message"]
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE service_id = 'face-compare'") == 7
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE ok") == 0
    # API calls stay the service's own report, accepted as before.
    call = {"ts": start.isoformat(), "status_code": 200, "latency_ms": 80}
    assert (await client.post("/api/ingest/api-calls", json=[call], headers=auth)).status_code == 200


@pytest.mark.parametrize("body", [b"[]", b"{not json", b'[{"ts": "yesterday"}]'])
async def test_any_push_for_a_probed_service_is_refused_before_its_body_is_read(make_client, conn, settings, body):
    client = await make_client(now=NOW)
    response = await client.post(
        "/api/ingest/checks",
        content=body,
        headers={**await _auth(conn, settings, "face-compare"), "Content-Type": "application/json"},
    )
    assert response.status_code == 403 and response.json()["error"] == "probed_service"


async def test_a_push_only_service_reports_its_own_checks(make_client, conn, settings, push_only):
    client = await make_client(now=NOW)
    response = await client.post(
        "/api/ingest/checks",
        json=pushed(5) + pushed(1, NOW - timedelta(hours=2), ok=False),
        headers=await _auth(conn, settings, push_only),
    )
    assert response.json() == {"accepted": 6, "duplicates": 0, "received": 6}
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE service_id = $1 AND NOT ok", push_only) == 1


async def test_an_unknown_region_is_refused_naming_row_and_region(make_client, conn, settings, push_only):
    client = await make_client(now=NOW)
    rows = pushed(4)
    rows[2]["region"] = "atlantis"
    response = await client.post("/api/ingest/checks", json=rows, headers=await _auth(conn, settings, push_only))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["details"][0]["row"] == 2 and body["details"][0]["field"] == "region"
    assert "'atlantis'" in body["message"] and "row 2" in body["message"]
    assert await conn.fetchval("SELECT count(*) FROM checks") == 0


async def test_regions_are_registered_by_the_probers_and_by_configuration(
    make_client, conn, settings, database_url, push_only
):
    auth = await _auth(conn, settings, push_only)
    client = await make_client(now=NOW)
    assert (await client.post("/api/ingest/checks", json=pushed(1, region="lisbon"), headers=auth)).status_code == 422
    fleet = Fleet(database_url, "lisbon", "test-prober-lisbon", heartbeat_s=5, ttl_s=15)
    try:
        assert await fleet.beat() is not None
    finally:
        await fleet.stop()
    response = await client.post("/api/ingest/checks", json=pushed(1, region="lisbon"), headers=auth)
    assert response.status_code == 200, response.text
    configured = await make_client(now=NOW, ingest_regions=["warehouse-cron"])
    response = await configured.post("/api/ingest/checks", json=pushed(1, region="warehouse-cron"), headers=auth)
    assert response.json()["accepted"] == 1


async def test_a_region_outlives_its_probers(conn, database_url):
    fleet = Fleet(database_url, "osaka", "test-prober-osaka", heartbeat_s=5, ttl_s=15)
    await fleet.beat()
    await fleet.stop()
    await conn.execute("DELETE FROM prober_heartbeats")
    assert await conn.fetchval("SELECT count(*) FROM regions WHERE name = 'osaka'") == 1


@pytest.mark.parametrize("ahead", [timedelta(minutes=2), timedelta(minutes=6), timedelta(days=1)])
async def test_a_future_slot_is_refused(make_client, conn, settings, push_only, ahead):
    client = await make_client(now=NOW)
    rows = pushed(3, NOW - timedelta(minutes=1))
    rows[1]["ts"] = (NOW + ahead).isoformat()
    response = await client.post(
        "/api/ingest/checks",
        content="\n".join(json.dumps(r) for r in rows),
        headers={**await _auth(conn, settings, push_only), "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 422
    assert (response.json()["details"][0]["row"], response.json()["details"][0]["field"]) == (1, "ts")
    assert await conn.fetchval("SELECT count(*) FROM checks") == 0


async def test_the_writer_refuses_future_slots_on_every_path_by_default(conn):
    # The prober's sink and the seeder call write_checks without limits: the default applies.
    # Two minutes ahead is past any clock skew: with it a reporter could fill the next slots before they happen.
    for ahead in (timedelta(minutes=2), timedelta(hours=1)):
        future = datetime.now(timezone.utc) + ahead
        with pytest.raises(IngestError) as caught:
            await write_checks(conn, [CheckRow(future, "face-compare", "seoul", True, 200, 80)])
        assert caught.value.errors[0].field == "ts"
    assert await conn.fetchval("SELECT count(*) FROM checks") == 0
    now = datetime.now(timezone.utc)
    await write_checks(conn, [CheckRow(now + timedelta(seconds=20), "face-compare", "seoul", True, 200, 80)])
    assert await conn.fetchval("SELECT count(*) FROM checks") == 1  # small clock skew is fine
