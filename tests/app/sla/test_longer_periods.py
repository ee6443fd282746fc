"""Periods beyond the month on the SLA figure routes (docs/sla-math.md, Periods): a quarter, a year and
a range of days, each equal to an independent pandas computation from the raw rows, in UTC and in New
York (the quarter holds March's spring-forward: 129,540 minutes); a quarter equals the combination
its definition gives of its three months (slots and calls summed, availability truncated from the
sums); and a wrong combination of parameters is a 422 naming the parameter."""

from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks

SID = "face-compare"  # enterprise tier, one check a minute
NOW = datetime(2025, 6, 20, tzinfo=timezone.utc)
ZONES = ["UTC", "America/New_York"]


def spans(tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Minutes across the quarter's start and end (in the zone), a month boundary and the DST night."""
    start = datetime(2025, 1, 1, tzinfo=tz).astimezone(timezone.utc)
    end = datetime(2025, 4, 1, tzinfo=tz).astimezone(timezone.utc)
    march = datetime(2025, 3, 1, tzinfo=tz).astimezone(timezone.utc)
    return [
        (start - timedelta(hours=6), start + timedelta(hours=20)),
        (march - timedelta(hours=10), march + timedelta(hours=10)),
        (datetime(2025, 3, 9, 4, tzinfo=timezone.utc), datetime(2025, 3, 9, 12, tzinfo=timezone.utc)),
        (end - timedelta(hours=20), end + timedelta(hours=6)),
    ]


@pytest.fixture(params=ZONES)
async def quarter_data(request, conn):
    tz = ZoneInfo(request.param)
    rng = np.random.default_rng(19)
    checks, calls = [], []
    for begin, end in spans(tz):
        minutes = int((end - begin).total_seconds() // 60)
        fails = rng.random(minutes) < 0.03
        for i in range(minutes):
            ok = not fails[i]
            ts = begin + timedelta(minutes=i)
            checks.append(CheckRow(ts, SID, "seoul", ok, 200 if ok else 503, 100, None if ok else "http_error"))
        offsets = rng.uniform(0, (end - begin).total_seconds(), 500)
        latency = rng.lognormal(np.log(180), 0.6, 500).astype(int) + 1
        statuses = rng.choice([200, 200, 200, 200, 404, 500], 500)
        calls += [
            ApiCallRow(begin + timedelta(seconds=float(o)), SID, "/v1", "POST", int(s), int(ms), f"{begin}-{i}")
            for i, (o, ms, s) in enumerate(zip(offsets, latency, statuses))
        ]
    await write_checks(conn, checks, now=NOW)
    await write_api_calls(conn, calls, now=NOW)
    checks_frame = pd.DataFrame(checks, columns=CheckRow._fields)
    checks_frame["ts"] = pd.to_datetime(checks_frame["ts"], utc=True)
    calls_frame = pd.DataFrame(calls, columns=ApiCallRow._fields)
    calls_frame["ts"] = pd.to_datetime(calls_frame["ts"], utc=True)
    return request.param, checks_frame, calls_frame


def bounds(zone: str, first: date, end: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    return pd.Timestamp(first).tz_localize(zone).tz_convert("UTC"), pd.Timestamp(end).tz_localize(zone).tz_convert(
        "UTC"
    )


def truncated(ok: int, total: int) -> float:
    return float((Decimal(ok) * 100 / Decimal(total)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def half_up(value: Decimal, places: str = "0.01") -> float:
    return float(value.quantize(Decimal(places), rounding=ROUND_HALF_UP))


def oracle(zone: str, checks: pd.DataFrame, calls: pd.DataFrame, first: date, end: date) -> dict:
    lo, hi = bounds(zone, first, end)
    inside = checks[(checks.ts >= lo) & (checks.ts < hi)]
    total, ok = len(inside), int(inside.ok.sum())
    c = calls[(calls.ts >= lo) & (calls.ts < hi)]
    latencies = np.sort(c.latency_ms.to_numpy())
    n = len(latencies)
    errors = int((c.status_code != 200).sum())
    minutes = int((min(hi, pd.Timestamp(NOW)) - lo).total_seconds() // 60)  # a running period: up to now
    return {
        "availability": {
            "totalChecks": total,
            "successfulChecks": ok,
            "failedChecks": total - ok,
            "uptimePercentage": truncated(ok, total),
            "downtimeMinutes": total - ok,
            "expectedChecks": minutes,
        },
        "responseTimes": {
            "totalRequests": n,
            "avgResponseTime": half_up(Decimal(int(latencies.sum())) / n, "1"),
            "percentiles": {f"p{p}": int(latencies[int(np.ceil(p / 100 * n)) - 1]) for p in (50, 95, 99)},
        },
        "usage": {
            "totalCalls": n,
            "successfulCalls": n - errors,
            "errorCalls": errors,
            "errorRate": half_up(Decimal(errors) * 100 / n),
            # a day per day of the period, up to today's for a running one
            "days": (min(end, NOW.astimezone(ZoneInfo(zone)).date() + timedelta(days=1)) - first).days,
        },
    }


async def figures(client, query: str) -> dict:
    a = (await client.get(f"/api/sla/availability/{SID}?{query}")).json()
    r = (await client.get(f"/api/sla/response-times/{SID}?{query}")).json()
    u = (await client.get(f"/api/sla/usage/{SID}?{query}")).json()
    return {"period": a["period"], "partial": a["partial"], "a": a["metrics"], "r": r["metrics"], "u": u["metrics"]}


def assert_matches(got: dict, expected: dict) -> None:
    for key, value in expected["availability"].items():
        assert got["a"][key] == value, key
    for key, value in expected["responseTimes"].items():
        assert got["r"][key] == value, key
    usage = dict(expected["usage"])
    assert len(got["u"]["dailyStats"]) == usage.pop("days")
    for key, value in usage.items():
        assert got["u"][key] == value, key


@pytest.mark.parametrize(
    ("query", "label", "first", "end"),
    [
        ("period=quarterly&year=2025&quarter=1", "2025-Q1", date(2025, 1, 1), date(2025, 4, 1)),
        ("period=yearly&year=2025", "2025", date(2025, 1, 1), date(2026, 1, 1)),
        (
            "period=range&start=2025-02-15&end=2025-03-15",
            "2025-02-15..2025-03-15",
            date(2025, 2, 15),
            date(2025, 3, 15),
        ),
    ],
)
async def test_longer_periods_match_pandas(make_client, quarter_data, query, label, first, end):
    zone, checks, calls = quarter_data
    client = await make_client(now=NOW, timezone=zone)
    got = await figures(client, query)
    assert got["period"] == label and got["partial"] is (NOW < bounds(zone, first, end)[1])
    assert_matches(got, oracle(zone, checks, calls, first, end))


async def test_the_quarter_in_new_york_is_elapsed_minutes(make_client, quarter_data):
    zone, _, _ = quarter_data
    client = await make_client(now=NOW, timezone=zone)
    got = await figures(client, "period=quarterly&year=2025&quarter=1")
    # 90 days, less the hour New York skips on 9 March
    assert got["a"]["expectedChecks"] == 90 * 1440 - (60 if zone == "America/New_York" else 0)


async def test_a_quarter_is_the_combination_of_its_months(make_client, quarter_data):
    zone, _, _ = quarter_data
    client = await make_client(now=NOW, timezone=zone)
    quarter = await figures(client, "period=quarterly&year=2025&quarter=1")
    months = [await figures(client, f"period=monthly&year=2025&month={m}") for m in (1, 2, 3)]
    for key in ("totalChecks", "successfulChecks", "failedChecks", "downtimeMinutes", "expectedChecks"):
        assert quarter["a"][key] == sum(m["a"][key] for m in months), key
    ok, total = quarter["a"]["successfulChecks"], quarter["a"]["totalChecks"]
    assert quarter["a"]["uptimePercentage"] == truncated(ok, total)  # from the sums, not an average of months
    for key in ("totalCalls", "successfulCalls", "errorCalls", "clientErrors", "serverErrors"):
        assert quarter["u"][key] == sum(m["u"][key] for m in months), key
    assert quarter["u"]["dailyStats"] == [day for m in months for day in m["u"]["dailyStats"]]
    assert quarter["r"]["totalRequests"] == sum(m["r"]["totalRequests"] for m in months)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=quarterly&year=2025", "quarter"),
        ("period=quarterly&quarter=2", "year"),
        ("period=quarterly&year=2025&quarter=1&month=2", "month"),
        ("period=quarterly&year=2025&quarter=5", "quarter"),
        ("period=yearly&year=2025&quarter=1", "quarter"),
        ("period=monthly&year=2025&month=1&start=2025-01-01", "start"),
        ("period=range&start=2025-01-01", "end"),
        ("period=range&end=2025-01-01", "start"),
        ("period=range&start=2025-01-01&end=2025-01-01", "end"),
        ("period=range&start=2025-01-01&end=2026-01-02", "end"),
        ("period=range&start=2025-13-01&end=2025-12-01", "start"),
        ("period=range&start=2025-01-01&end=2025-02-01&year=2025", "year"),
        ("period=weekly", "period"),
    ],
)
async def test_wrong_combinations_are_422_naming_the_parameter(make_client, conn, query, field):
    client = await make_client(now=NOW)
    r = await client.get(f"/api/sla/availability/{SID}?{query}")
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["details"]], r.json()


async def test_a_range_of_a_whole_year_is_allowed(make_client, conn):
    client = await make_client(now=NOW)
    r = await client.get(f"/api/sla/availability/{SID}?period=range&start=2024-02-29&end=2025-03-01")
    assert r.status_code == 200 and r.json()["period"] == "2024-02-29..2025-03-01"
