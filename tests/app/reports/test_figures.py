"""Every figure of a frozen monthly report against an independent pandas computation from the raw
rows, and against what /api/sla/* answers for the same month. Data: the SLA API tests' August in
Asia/Seoul (two regions on some days, a monitoring gap, maintenance with failures, incidents), plus
SLO violations inserted directly (the SLO evaluation that writes them is another module)."""

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from app.ingest.service import ApiCallRow
from app.periods import month
from app.reports import figures as report_figures
from app.reports import queries as report_queries
from app.reports import service as reports
from app.slo.definitions import examples, store
from app.slo.definitions.model import Definition, Filter, Sli, Window
from tests.app.sla.test_api import (  # noqa: F401 — the `august` fixture and its pandas oracles
    INCIDENTS,
    MAINTENANCE,
    MONTH_END,
    MONTH_START,
    NOW,
    SID,
    TZ,
    ZONE,
    august,
    half_up,
    oracle_slots,
    truncated,
)

AUGUST = month(2025, 8, TZ)


async def add_violations(conn, rows) -> None:
    for slo, started, ended in rows:
        await conn.execute(
            "INSERT INTO slo_violations (service_id, slo, severity, started_at, ended_at, threshold) "
            "VALUES ($1, $2, 'CRITICAL', $3, $4, 99.95)",
            SID,
            slo,
            started,
            ended,
        )


@pytest.fixture
async def frozen(conn, august, make_client):
    await add_violations(
        conn,
        [
            (
                "availability",
                datetime(2025, 8, 3, 1, 0, tzinfo=timezone.utc),
                datetime(2025, 8, 3, 5, 0, tzinfo=timezone.utc),
            ),
            ("latency_p95", datetime(2025, 8, 20, tzinfo=timezone.utc), datetime(2025, 8, 20, 1, tzinfo=timezone.utc)),
            ("error_rate", datetime(2025, 9, 2, tzinfo=timezone.utc), None),  # September: not August's
        ],
    )
    written = await reports.close_month(conn, AUGUST, NOW, ZONE)
    assert SID in written
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    return august, body, client


def calls_frame(calls) -> pd.DataFrame:
    df = pd.DataFrame(calls, columns=ApiCallRow._fields)
    df = df[(df["ts"] >= MONTH_START) & (df["ts"] < MONTH_END)].copy()
    df["day"] = df["ts"].dt.tz_convert(TZ).dt.date
    return df


def nearest_rank(values, p: int) -> int | None:
    ordered = np.sort(np.asarray(values))
    return None if len(ordered) == 0 else int(ordered[int(np.ceil(p / 100 * len(ordered))) - 1])


async def test_report_equals_the_sla_api_for_the_same_month(frozen):
    _, report, client = frozen
    query = "period=monthly&year=2025&month=8"
    availability = (await client.get(f"/api/sla/availability/{SID}?{query}")).json()["metrics"]
    response = (await client.get(f"/api/sla/response-times/{SID}?{query}")).json()
    usage = (await client.get(f"/api/sla/usage/{SID}?{query}")).json()["metrics"]
    stats = (await client.get(f"/api/sla/incidents/stats?{query}&serviceId={SID}")).json()
    assert {k: v for k, v in report["availability"].items() if k != "daily"} == availability
    assert {k: v for k, v in report["responseTimes"].items() if k not in ("daily", "targetThreshold")} == response[
        "metrics"
    ]
    assert report["responseTimes"]["targetThreshold"] == response["targetThreshold"] == 7000
    assert report["usage"] == usage
    # byPriority (time to acknowledge and to resolve) is the report's own: tests/app/reports/test_response_times.py
    assert {k: v for k, v in report["incidents"].items() if k != "byPriority"} == {
        "summary": stats["summary"],
        "incidents": stats["incidents"],
    }
    assert report["report"]["status"] == "final" and report["report"]["revision"] == 1
    assert report["period"] == {
        "label": "2025-08",
        "start": "2025-08-01T00:00:00+09:00",
        "end": "2025-09-01T00:00:00+09:00",
        "timezone": ZONE,
        "days": 31,
        "minutes": 44640,
    }


async def test_daily_figures_match_pandas(frozen):
    (checks, calls), report, client = frozen
    slots = oracle_slots(checks)
    judged = slots[~slots["maintenance"]]
    df = calls_frame(calls)
    grid = (await client.get(f"/api/uptime/{SID}?months=1&startDate=2025-08-01")).json()["months"][0]["days"]
    daily = report["availability"]["daily"]
    latency = report["responseTimes"]["daily"]
    assert [d["date"] for d in daily] == [(date(2025, 8, 1) + timedelta(days=i)).isoformat() for i in range(31)]
    assert [d["status"] for d in daily] == grid  # the status page's grid, itself checked against pandas
    for row, lat in zip(daily, latency):
        day = date.fromisoformat(row["date"])
        day_slots = judged[judged["day"] == day]
        n, ok = len(day_slots), int(day_slots["ok"].sum())
        assert (row["totalChecks"], row["successfulChecks"], row["failedChecks"]) == (n, ok, n - ok), day
        assert row["uptimePercentage"] == (truncated(ok, n) if n else None), day
        assert row["downtimeMinutes"] == n - ok
        assert row["maintenanceChecks"] == int(slots[(slots["day"] == day)]["maintenance"].sum())
        day_calls = df[df["day"] == day]["latency_ms"].to_numpy()
        assert lat == {
            "date": row["date"],
            "totalRequests": len(day_calls),
            "p50": nearest_rank(day_calls, 50),
            "p95": nearest_rank(day_calls, 95),
            "p99": nearest_rank(day_calls, 99),
        }, day


async def test_slo_budget_and_credits_match_pandas(frozen):
    (checks, calls), report, _ = frozen
    slots = oracle_slots(checks)
    judged = slots[~slots["maintenance"]]
    total, ok = len(judged), int(judged["ok"].sum())
    uptime = Decimal(ok * 10000 // total) / 100
    df = calls_frame(calls)
    n = len(df)
    lat = df["latency_ms"].to_numpy()
    c4xx = int(df["status_code"].between(400, 499).sum())
    c5xx = int(df["status_code"].between(500, 599).sum())
    # face-compare is Enterprise: 99.95 %, P50/P95/P99 < 100/200/500 ms, errors < 0.1 %, 5xx < 0.05 %
    objectives = {o["id"]: o for o in report["slo"]["objectives"]}
    assert objectives["availability"] == {
        "id": "availability",
        "unit": "%",
        "comparison": ">=",
        "target": 99.95,
        "actual": float(uptime),
        "met": uptime >= Decimal("99.95"),
    }
    for name, target in (("p50", 100), ("p95", 200), ("p99", 500)):
        actual = nearest_rank(lat, int(name[1:]))
        assert objectives[f"latency_{name}"]["actual"] == actual
        assert objectives[f"latency_{name}"]["met"] == (actual < target)
    for name, errors, target in (
        ("error_rate", c4xx + c5xx, "0.1"),
        ("error_rate_5xx", c5xx, "0.05"),
        ("error_rate_4xx", c4xx, "5"),
    ):
        assert objectives[name]["actual"] == half_up(Decimal(errors) * 100 / n, "0.0001")
        assert objectives[name]["met"] == (Decimal(errors) * 100 < Decimal(target) * n)
    downtime = total - ok
    assert report["slo"]["errorBudget"] == {
        "targetPercent": 99.95,
        "totalMinutes": 22.32,  # (1 - 0.9995) x 31 x 1440
        "consumedMinutes": downtime,
        "remainingMinutes": float(Decimal("22.32") - downtime),
        "consumedPercent": half_up(Decimal(downtime) * 100 / Decimal("22.32")),
    }
    # Violations: the 4-hour one counts (+5 %); the September one is not listed.
    assert [(v["slo"], v["durationMinutes"], v["duration"]) for v in report["slo"]["violations"]] == [
        ("availability", 240, "4h 0m"),
        ("latency_p95", 60, "1h 0m"),
    ]
    p95 = nearest_rank(lat, 95)
    below = uptime < Decimal("99.95")
    expected_total = min(50, (10 if below else 0) + (5 if p95 > 400 else 0) + 5)
    assert report["credits"] == {
        "availabilityPercent": 10 if below else 0,
        "latencyPercent": 5 if p95 > 400 else 0,
        "longViolationPercent": 5,
        "totalPercent": expected_total,
        "capPercent": 50,
        "p95Ms": p95,
        "p95TargetMs": 200,
        "longestViolationMinutes": 240,
    }
    assert below and p95 > 400  # the data exercises every credit: 10 + 5 + 5
    assert report["credits"]["totalPercent"] == 20


async def test_open_month_is_live_and_provisional(conn, august, make_client):
    now = datetime(2025, 8, 20, 3, 0, tzinfo=timezone.utc)
    client = await make_client(now=now, timezone=ZONE)
    report = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    assert report["report"]["status"] == "provisional" and report["report"]["revision"] is None
    assert report["report"]["asOf"] == "2025-08-20T03:00:00Z"
    assert len(report["availability"]["daily"]) == 20  # up to today in Seoul
    api = (await client.get(f"/api/sla/availability/{SID}?period=monthly&year=2025&month=8")).json()
    assert api["partial"] is True
    assert {k: v for k, v in report["availability"].items() if k != "daily"} == api["metrics"]
    assert await conn.fetchval("SELECT count(*) FROM report_snapshots") == 0  # reading never freezes


async def test_a_definitions_violation_is_listed_and_counts_for_the_credit(conn, august, make_client):
    """A violation of an SLO definition (app/slo/definitions) of 4 h 30 min — half of it in August — is
    listed beside the tier SLOs' and adds the 4-hour credit; the tier violation alone would not."""
    definition = examples.examples()[0]
    await store.put(conn, definition, "example")
    await add_violations(
        conn,
        [("latency_p95", datetime(2025, 8, 20, tzinfo=timezone.utc), datetime(2025, 8, 20, 1, tzinfo=timezone.utc))],
    )
    await conn.execute(
        "INSERT INTO slo_definition_violations"
        " (definition, service_id, alert, severity, started_at, ended_at, threshold)"
        " VALUES ($1, $2, 'burn-rate-fast', 'CRITICAL', $3, $4, 14.4)",
        definition.name, SID, MONTH_END - timedelta(hours=2, minutes=15), MONTH_END + timedelta(hours=2, minutes=15),
    )  # fmt: skip
    await reports.close_month(conn, AUGUST, NOW, ZONE)
    client = await make_client(now=NOW, timezone=ZONE)
    report = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    listed = [(v["definition"], v["slo"], v["durationMinutes"]) for v in report["slo"]["violations"]]
    assert listed == [(None, "latency_p95", 60), (definition.name, f"{definition.name}/burn-rate-fast", 270)]
    assert report["credits"]["longViolationPercent"] == 5
    assert report["credits"]["longestViolationMinutes"] == 270


async def test_every_definition_covering_the_service_is_reported_over_the_month(conn, august, make_client):
    """The month's figures of each stored SLO definition covering the service, against pandas: a P95
    of the calls (its own window is a rolling week: the report is of the month) and a plain
    availability, which is the report's own availability."""
    p95 = Definition(
        name="face-p95",
        display_name="P95 under 400 ms",
        description="",
        services=(SID,),
        sli=Sli("calls", good=Filter(latency_below_ms=400), percentile=Decimal(95)),
        window=Window("rolling", days=7),
        target=Decimal(95),
    )
    availability = examples.examples()[0]  # SLO-001: the checks, 99.9 % a calendar month, every service
    elsewhere = replace(p95, name="elsewhere", services=("another-service",))
    for definition in (p95, availability, elsewhere):
        await store.put(conn, definition, "api")
    await reports.close_month(conn, AUGUST, NOW, ZONE)
    client = await make_client(now=NOW, timezone=ZONE)
    report = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    found = {d["name"]: d for d in report["slo"]["definitions"]}
    assert sorted(found) == ["face-p95", availability.name]  # not the one of another service

    _, calls = august
    df = calls_frame(calls)
    [window] = report["maintenance"]
    if window["excludedFromSla"]:
        start, end = (pd.Timestamp(window[k]) for k in ("startsAt", "endsAt"))
        df = df[(df["ts"] < start) | (df["ts"] >= end)]
    n, good = len(df), int((df["latency_ms"] < 400).sum())
    allowed = n - int(np.ceil(Decimal("0.95") * n))
    assert found["face-p95"] == {
        "name": "face-p95",
        "displayName": "P95 under 400 ms",
        "window": "7d rolling",
        "target": 95,
        "op": "gte",
        "events": {"unit": "calls", "total": n, "good": good, "bad": n - good},
        "sli": float(Decimal(good * 1000000 // n) / 10000),
        "met": good * 100 >= 95 * n,
        "percentileMs": nearest_rank(df["latency_ms"].to_numpy(), 95),
        "errorBudget": {
            "unit": "calls",
            "total": allowed,
            "consumed": n - good,
            "remaining": allowed - (n - good),
            "consumedPercent": float(half_up(Decimal(n - good) * 100 / allowed)) if allowed else None,
        },
    }
    # "P95 < 400 ms" and "95 % of the calls under 400 ms" are one statement (nearest rank)
    assert found["face-p95"]["met"] == (found["face-p95"]["percentileMs"] < 400)
    checks = report["availability"]
    slot = found[availability.name]
    assert slot["events"] == {
        "unit": "slots",
        "total": checks["totalChecks"],
        "good": checks["successfulChecks"],
        "bad": checks["totalChecks"] - checks["successfulChecks"],
    }
    assert slot["errorBudget"]["consumed"] == checks["downtimeMinutes"]
    assert slot["errorBudget"]["total"] == float(half_up(Decimal("0.001") * 31 * 1440))  # August: 31 days


async def test_a_report_frozen_before_definitions_still_renders(conn, august, make_client):
    """A snapshot of figures version 2 (frozen before reports stated SLO definitions) has neither
    `slo.definitions` nor `definition` in its violations: it is served and rendered as frozen."""
    await add_violations(conn, [("availability", MONTH_START, MONTH_START + timedelta(hours=1))])
    service = await conn.fetchrow("SELECT * FROM services WHERE id = $1", SID)
    doc = await report_figures.compute(conn, service, AUGUST, NOW, ZONE)
    doc["version"] = 2
    del doc["slo"]["definitions"]
    for violation in doc["slo"]["violations"]:
        del violation["definition"]
    await conn.execute(report_queries.INSERT_FIRST, SID, date(2025, 8, 1), ZONE, json.dumps(doc))
    client = await make_client(now=NOW, timezone=ZONE)
    report = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    assert report["version"] == 2 and "definitions" not in report["slo"]
    assert "definition" not in report["slo"]["violations"][0]
    page = await client.get(f"/api/sla/reports/{SID}/2025-08.html")
    assert page.status_code == 200 and "availability" in page.text
