"""GET /api/slo-definitions…: the tier definitions listed read-only beside the stored ones, one
definition, its status per service (the engine's figures, burn alerts, open violations; a tier
definition's violations are the tier engine's), its violations paged and filtered; clear 404/422."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from app.ingest.service import ApiCallRow, write_api_calls
from app.slo.definitions import store
from app.slo.definitions.model import BurnRateAlert, Definition, Filter, Sli, Window

NOW = datetime(2025, 8, 20, 12, 0, 30, tzinfo=timezone.utc)
SID = "face-compare"
DEFINITION = Definition(
    "compare-5xx",
    "Compare without 5xx",
    "5xx below 1 % over 7 days",
    (SID,),
    Sli("calls", events=Filter(endpoints=("/v1/compare",)), bad=Filter(statuses=("5xx",))),
    Window("rolling", days=7),
    Decimal(99),
    op="gt",
    alerts=(BurnRateAlert("fast", "CRITICAL", 60, 5, Decimal(3)),),
    labels={"team": "faces"},
)


async def test_list_get_and_unknown(defs_db, make_client):
    await store.put(defs_db, DEFINITION, "api")
    client = await make_client(now=NOW)
    body = (await client.get("/api/slo-definitions")).json()
    definitions = {d["name"]: d for d in body["definitions"]}
    assert len(definitions) == 29
    tier = definitions["tier-professional-latency-p95"]
    assert (tier["readOnly"], tier["source"], tier["tier"], tier["target"], tier["sli"]["percentile"]) == (
        True,
        "tier",
        "professional",
        95,
        95,
    )
    mine = (await client.get("/api/slo-definitions/compare-5xx")).json()
    assert mine == definitions["compare-5xx"]
    assert (mine["readOnly"], mine["source"], mine["target"], mine["op"], mine["labels"]) == (
        False,
        "api",
        99,
        "gt",
        {"team": "faces"},
    )
    assert mine["sli"]["bad"]["statuses"] == ["5xx"] and mine["alerts"][0]["factor"] == 3
    missing = await client.get("/api/slo-definitions/nope")
    assert missing.status_code == 404 and missing.json()["message"] == "unknown SLO definition 'nope'"
    too_long = await client.get("/api/slo-definitions/" + "a" * 64)
    assert too_long.status_code == 422


async def test_status_and_violations(defs_db, make_client):
    conn = defs_db
    await store.put(conn, DEFINITION, "api")
    calls = [
        ApiCallRow(NOW - timedelta(minutes=i), SID, "/v1/compare", "POST", 500 if i < 3 else 200, 50, f"c{i}")
        for i in range(1, 200)
    ]
    await write_api_calls(conn, calls, now=NOW)
    for i, (start, end) in enumerate(((NOW - timedelta(hours=3), NOW - timedelta(hours=2)), (NOW, None))):
        await conn.execute(
            "INSERT INTO slo_definition_violations (definition, service_id, alert, severity, started_at, ended_at, "
            "threshold, worst_value, details) VALUES ('compare-5xx', $1, 'fast', 'CRITICAL', $2, $3, 10, $4, $5)",
            SID,
            start,
            end,
            Decimal(20 + i),
            json.dumps({"kind": "burn_rate"}),
        )
    await conn.execute(
        "INSERT INTO slo_violations (service_id, slo, severity, started_at, threshold) VALUES ($1, $2, $3, $4, $5)",
        SID,
        "burn_rate_slow",
        "WARNING",
        NOW - timedelta(minutes=20),
        6,
    )
    client = await make_client(now=NOW)
    body = (await client.get("/api/slo-definitions/compare-5xx/status")).json()
    assert body["window"]["label"] == "7d rolling" and body["window"]["minutes"] == 7 * 1440
    (entry,) = body["services"]
    assert entry["serviceId"] == SID and entry["serviceName"] == "Face Compare"
    assert entry["events"] == {"unit": "calls", "total": 199, "good": 197, "bad": 2}
    assert entry["errorBudget"] == {"unit": "calls", "total": 1, "consumed": 2, "remaining": -1, "consumedPercent": 200}
    assert entry["met"] is False and entry["sli"] == 98.9949
    (fast,) = entry["burnAlerts"]
    assert (
        fast["alert"] == "fast" and fast["burning"] is True and (fast["shortRate"], fast["longRate"]) == (40, 3.33)
    )  # 2 of 5 and of 60 calls
    assert [v["worstValue"] for v in entry["openViolations"]] == [21]

    page = (await client.get("/api/slo-definitions/compare-5xx/violations", params={"limit": 1})).json()
    assert page["pagination"] == {"page": 1, "limit": 1, "total": 2, "totalPages": 2, "hasNext": True}
    assert page["violations"][0]["open"] is True and page["violations"][0]["definition"] == "compare-5xx"
    closed = (await client.get("/api/slo-definitions/compare-5xx/violations", params={"state": "closed"})).json()
    assert [v["durationSeconds"] for v in closed["violations"]] == [3600]
    unknown = await client.get("/api/slo-definitions/compare-5xx/violations", params={"serviceId": "nope"})
    assert unknown.status_code == 404

    tier = (await client.get("/api/slo-definitions/tier-enterprise-availability/status")).json()
    assert {s["serviceId"] for s in tier["services"]} == {"id-recognition", "face-compare"}  # the enterprise ones
    (compare,) = [s for s in tier["services"] if s["serviceId"] == SID]
    assert [(v["alert"], v["definition"]) for v in compare["openViolations"]] == [
        ("burn-rate-slow", "tier-enterprise-availability")
    ]
    tier_page = (await client.get("/api/slo-definitions/tier-enterprise-availability/violations")).json()
    assert tier_page["pagination"]["total"] == 1
    other = (await client.get("/api/slo-definitions/tier-enterprise-latency-p95/violations")).json()
    assert other["pagination"]["total"] == 0


async def test_an_unreadable_stored_body_is_left_out(defs_db, make_client):
    await store.put(defs_db, DEFINITION, "api")
    await defs_db.execute(
        "INSERT INTO slo_definitions (name, body, source) VALUES ('broken', '{\"name\": \"broken\"}', 'api')"
    )
    assert [s.definition.name for s in await store.list_definitions(defs_db)] == ["compare-5xx"]
    client = await make_client(now=NOW)
    assert len((await client.get("/api/slo-definitions")).json()["definitions"]) == 29
    assert (await client.get("/api/slo-definitions/broken/status")).status_code == 404
