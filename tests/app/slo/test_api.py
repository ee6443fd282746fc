"""GET /api/slo/{serviceId}: every SLO figure against an independent pandas computation from the raw
rows; the month cut in Asia/Seoul, two regions some days (majority, ties fail), a maintenance window
with failures and calls inside (left out of every figure), burn rates over the windows ending now."""

import math
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.rollups import service as rollups
from app.sla.tiers import TIERS

ZONE = "Asia/Seoul"
TZ = ZoneInfo(ZONE)
SID = "face-compare"  # enterprise: 99.95 %, P50/P95/P99 100/200/500 ms, errors 0.1 %, 5xx 0.05 %
TIER = TIERS["enterprise"]
MONTH_START = datetime(2025, 8, 1, tzinfo=TZ)
MONTH_END = datetime(2025, 9, 1, tzinfo=TZ)
NOW = datetime(2025, 8, 20, 12, 0, 30, tzinfo=timezone.utc)
MAINTENANCE = (datetime(2025, 8, 10, 1, 0, tzinfo=timezone.utc), datetime(2025, 8, 10, 3, 0, tzinfo=timezone.utc))
WINDOWS = {"5m": 300, "30m": 1800, "1h": 3600, "6h": 21600}


def make_checks(rng) -> list[CheckRow]:
    start = MONTH_START.astimezone(timezone.utc) - timedelta(hours=3)
    minutes = int((NOW - start).total_seconds() // 60) + 1
    slots = pd.date_range(start, periods=minutes, freq="min")
    fail = rng.random(minutes) < 0.004
    fail[4000:4045] = True  # a 45-minute outage
    fail[int((MAINTENANCE[0] - start).total_seconds() // 60) + 5 :][:30] = True  # failures in maintenance
    fail[-200:] = rng.random(200) < 0.05  # burning lately
    rows = []
    for i, ts in enumerate(slots):
        ts, ok = ts.to_pydatetime(), not fail[i]
        rows.append(CheckRow(ts, SID, "seoul", ok, 200 if ok else 503, 300, None if ok else "http_error"))
        if datetime(2025, 8, 14, tzinfo=timezone.utc) <= ts < datetime(2025, 8, 15, tzinfo=timezone.utc):
            other = ok if i % 97 else not ok  # 1 ok + 1 failed is a tie, and ties fail
            rows.append(CheckRow(ts, SID, "virginia", other, 200 if other else 503, 310, None if other else "timeout"))
    return rows


def make_calls(rng) -> list[ApiCallRow]:
    n = 20_000
    start = MONTH_START.astimezone(timezone.utc) - timedelta(hours=5)
    offsets = rng.uniform(0, (NOW - start).total_seconds() + 600, n)  # some after `now`: not counted
    offsets[:600] = rng.uniform((NOW - start).total_seconds() - 21600, (NOW - start).total_seconds(), 600)
    latency = rng.lognormal(np.log(90), 0.7, n).astype(int)
    status = rng.choice([200] * 60 + [201, 301, 404, 429, 500, 503], n)
    return [
        ApiCallRow(start + timedelta(seconds=float(o)), SID, "/v1/compare", "POST", int(s), int(l), f"r{i}")
        for i, (o, l, s) in enumerate(zip(offsets, latency, status))
    ]


@pytest.fixture
async def august(conn):
    rng = np.random.default_rng(7)
    checks, calls = make_checks(rng), make_calls(rng)
    await write_checks(conn, checks, now=NOW + timedelta(hours=1))
    await write_api_calls(conn, calls, now=NOW + timedelta(hours=1))
    await rollups.refresh(conn, ZONE, datetime(2025, 8, 15, tzinfo=timezone.utc))
    await conn.execute(
        "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) "
        "VALUES ('DB upgrade', $1, $2, $3)",
        [SID],
        *MAINTENANCE,
    )
    return checks, calls


def in_maintenance(ts: pd.Series) -> pd.Series:
    return (ts >= MAINTENANCE[0]) & (ts < MAINTENANCE[1])


def slot_frame(checks) -> pd.DataFrame:
    df = pd.DataFrame([(r.ts, r.ok) for r in checks], columns=["ts", "ok"])
    slots = df.groupby("ts").ok.agg(lambda s: s.sum() * 2 > len(s)).reset_index()
    return slots[~in_maintenance(slots.ts)]


def call_frame(calls) -> pd.DataFrame:
    df = pd.DataFrame([(r.ts, r.status_code, r.latency_ms) for r in calls], columns=["ts", "status", "latency"])
    return df[~in_maintenance(df.ts)]


def nearest_rank(values: pd.Series, q: str) -> int:
    ordered = sorted(values)
    return int(ordered[math.ceil(Decimal(q) * len(ordered)) - 1])


def bad_calls(df: pd.DataFrame) -> dict[str, pd.Series]:
    return {
        "latency_p50": df.latency >= TIER.p50_ms,
        "latency_p95": df.latency >= TIER.p95_ms,
        "latency_p99": df.latency >= TIER.p99_ms,
        "error_rate": ~df.status.between(200, 399),
        "error_rate_5xx": df.status.between(500, 599),
        "error_rate_4xx": df.status.between(400, 499),
    }


def two(x) -> float:
    return float(Decimal(x).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


async def test_slo_figures_equal_a_recomputation_from_raw_rows(august, make_client):
    checks, calls = august
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get(f"/api/slo/{SID}")).json()
    assert body["period"] == "2025-08" and body["partial"] is True and body["service"]["tier"] == "enterprise"
    slos = {s["slo"]: s for s in body["slos"]}
    assert list(slos) == [
        "availability",
        "latency_p50",
        "latency_p95",
        "latency_p99",
        "error_rate",
        "error_rate_5xx",
        "error_rate_4xx",
    ]

    slots = slot_frame(checks)
    month = slots[(slots.ts >= MONTH_START) & (slots.ts < NOW)]
    failed = int((~month.ok).sum())
    availability = slos["availability"]
    assert availability["events"] == {"unit": "slots", "total": len(month), "bad": failed}
    assert availability["current"] == float(
        (Decimal(int(month.ok.sum())) * 100 / len(month)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    )
    budget_minutes = (1 - Decimal("99.95") / 100) * 31 * 24 * 60  # 22.32 min for a 31-day month
    assert availability["errorBudget"] == {
        "unit": "minutes",
        "total": 22.32,
        "consumed": float(failed),
        "remaining": float(budget_minutes - failed),
        "consumedPercent": two(Decimal(failed) * 100 / budget_minutes),
    }
    assert availability["met"] is (Decimal(int(month.ok.sum())) * 100 >= Decimal("99.95") * len(month))

    df = call_frame(calls)
    month_calls = df[(df.ts >= MONTH_START) & (df.ts < NOW)]
    n = len(month_calls)
    bad = bad_calls(month_calls)
    for slo, q, target in (
        ("latency_p50", "0.50", TIER.p50_ms),
        ("latency_p95", "0.95", TIER.p95_ms),
        ("latency_p99", "0.99", TIER.p99_ms),
    ):
        allowed = n - math.ceil(Decimal(q) * n)
        entry = slos[slo]
        assert entry["current"] == nearest_rank(month_calls.latency, q), slo
        assert entry["met"] is (entry["current"] < target)
        assert entry["events"] == {"unit": "calls", "total": n, "bad": int(bad[slo].sum())}
        assert entry["errorBudget"]["total"] == allowed
        assert entry["errorBudget"]["remaining"] == allowed - int(bad[slo].sum())
        assert (entry["errorBudget"]["remaining"] >= 0) is entry["met"]  # the budget and the SLO agree
    for slo, target in (("error_rate", "0.1"), ("error_rate_5xx", "0.05"), ("error_rate_4xx", "5")):
        errors = int(bad[slo].sum())
        entry = slos[slo]
        assert entry["current"] == float(
            (Decimal(errors) * 100 / n).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        )
        assert entry["met"] is (Decimal(errors) * 100 < Decimal(target) * n)
        assert entry["errorBudget"]["total"] == max(0, math.ceil(Decimal(target) / 100 * n) - 1)
        assert (entry["errorBudget"]["remaining"] >= 0) is entry["met"]

    for name, seconds in WINDOWS.items():
        lo = NOW - timedelta(seconds=seconds)
        window_slots = slots[(slots.ts >= lo) & (slots.ts < NOW)]
        ratio = Decimal(int((~window_slots.ok).sum())) / len(window_slots)
        assert slos["availability"]["burnRates"][name] == two(ratio / (1 - Decimal("99.95") / 100)), name
        window_calls = df[(df.ts >= lo) & (df.ts < NOW)]
        allowed = {
            "latency_p50": Decimal("0.5"),
            "latency_p95": Decimal("0.05"),
            "latency_p99": Decimal("0.01"),
            "error_rate": Decimal("0.001"),
            "error_rate_5xx": Decimal("0.0005"),
            "error_rate_4xx": Decimal("0.05"),
        }
        for slo, bad_series in bad_calls(window_calls).items():
            expected = (
                None
                if len(window_calls) == 0
                else two(Decimal(int(bad_series.sum())) / len(window_calls) / allowed[slo])
            )
            assert slos[slo]["burnRates"][name] == expected, (slo, name)
    assert slos["availability"]["burnRates"]["6h"] > 1  # the fixture burns lately: not a vacuous comparison


async def test_a_past_month_has_no_burn_rates(august, make_client):
    client = await make_client(now=datetime(2025, 9, 3, tzinfo=timezone.utc), timezone=ZONE)
    body = (await client.get(f"/api/slo/{SID}", params={"year": 2025, "month": 8})).json()
    assert body["partial"] is False and all(s["burnRates"] is None for s in body["slos"])
    assert body["slos"][0]["events"]["total"] > 0


async def test_a_month_without_data_claims_nothing(conn, make_client):
    client = await make_client(now=NOW)
    body = (await client.get(f"/api/slo/{SID}")).json()
    for slo in body["slos"]:
        assert slo["current"] is None and slo["met"] is None, slo
    assert body["slos"][0]["errorBudget"]["consumed"] == 0 and body["slos"][0]["errorBudget"]["total"] == 22.32


@pytest.mark.parametrize(
    "path, status, error",
    [
        ("/api/slo/nope", 404, "not_found"),
        ("/api/slo/face-compare?year=2025", 422, "validation_error"),
        ("/api/slo/face-compare?year=2025&month=13", 422, "validation_error"),
    ],
)
async def test_bad_requests_are_named(conn, make_client, path, status, error):
    r = await (await make_client(now=NOW)).get(path)
    assert r.status_code == status and r.json()["error"] == error


async def test_out_of_range_times_are_422_not_500(conn, make_client):
    client = await make_client(now=NOW)
    r = await client.get("/api/slo/violations", params={"since": "0001-01-01T00:00:00+14:00"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "since"


async def test_an_admin_changes_the_tier_and_the_targets_follow_audited(staff, make_client):
    from app.services.service import load_catalog, sync_catalog
    from tests.app.conftest import ROOT

    try:
        r = await staff.client.put(
            f"/api/services/{SID}", json={"tier": "developer"}, headers=await staff.headers("admin")
        )
        assert r.status_code == 200 and r.json()["service"]["tier"] == "developer"
        body = (await (await make_client(now=NOW)).get(f"/api/slo/{SID}")).json()
        assert body["service"]["tier"] == "developer"
        assert {s["slo"]: s["target"] for s in body["slos"]}["availability"] == 99.5
        entry = await staff.conn.fetchrow("SELECT actor_name, details FROM audit_log WHERE action = 'service.update'")
        assert entry["actor_name"] == "admin" and '"tier": "developer"' in entry["details"]
    finally:
        await sync_catalog(staff.conn, load_catalog(ROOT / "services.toml"))
