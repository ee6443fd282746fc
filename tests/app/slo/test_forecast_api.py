"""GET /api/slo/{serviceId}/forecast against an independent pandas computation from the raw rows: the
month cut in Asia/Seoul, a history month before it, a maintenance window with failures and calls
inside (left out), the month's and the last 7 days' burn and when each spends the budget."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.rollups import service as rollups
from app.slo import forecast
from app.slo.forecast import Day, Inputs, Window

ZONE = "Asia/Seoul"
TZ = ZoneInfo(ZONE)
SID = "face-compare"  # enterprise: 99.95 %, errors 0.1 %
HISTORY_START = datetime(2025, 7, 1, tzinfo=TZ)
MONTH_START = datetime(2025, 8, 1, tzinfo=TZ)
MONTH_END = datetime(2025, 9, 1, tzinfo=TZ)
NOW = datetime(2025, 8, 20, 12, 0, 30, tzinfo=timezone.utc)  # 21:00:30 in Seoul
MAINTENANCE = (datetime(2025, 8, 10, 1, 0, tzinfo=timezone.utc), datetime(2025, 8, 10, 3, 0, tzinfo=timezone.utc))
# Outages (Seoul start, minutes): every 10th day of July 6 minutes; in August 4 + 3, then 2 a day.
OUTAGES = [(datetime(2025, 7, d, 4, 0, tzinfo=TZ), 6) for d in (3, 13, 23)]
OUTAGES += [(datetime(2025, 8, 2, 10, 0, tzinfo=TZ), 4), (datetime(2025, 8, 15, 10, 0, tzinfo=TZ), 3)]
OUTAGES += [(datetime(2025, 8, d, 6, 0, tzinfo=TZ), 2) for d in (18, 19, 20)]


def make_checks() -> list[CheckRow]:
    start = HISTORY_START.astimezone(timezone.utc)
    minutes = int((NOW - start).total_seconds() // 60) + 1
    failed = set()
    for at, length in OUTAGES:
        first = int((at.astimezone(timezone.utc) - start).total_seconds() // 60)
        failed |= set(range(first, first + length))
    in_maintenance = int((MAINTENANCE[0] - start).total_seconds() // 60) + 5
    failed |= set(range(in_maintenance, in_maintenance + 30))  # left out
    rows = []
    for i in range(minutes):
        ok = i not in failed
        rows.append(
            CheckRow(
                start + timedelta(minutes=i), SID, "seoul", ok, 200 if ok else 503, 120, None if ok else "http_error"
            )
        )
    return rows


def make_calls() -> list[ApiCallRow]:
    rows = []
    start = HISTORY_START.astimezone(timezone.utc)
    for hour in range(int((NOW - start).total_seconds() // 3600) + 1):  # 12:07 is after `now`: not counted
        at = start + timedelta(hours=hour, minutes=7)
        for k in range(10):
            status = 500 if (hour % 97 == 0 and k < 3) or (at.day == 19 and k == 0) else 200
            rows.append(ApiCallRow(at + timedelta(seconds=k), SID, "/v1/compare", "POST", status, 80, f"r{hour}-{k}"))
    return rows


@pytest.fixture
async def august(conn):
    checks, calls = make_checks(), make_calls()
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


def daily(frame: pd.DataFrame, bad: str) -> pd.DataFrame:
    """Per Seoul day from the history's start to today: bad and all events, maintenance and the
    future left out."""
    frame = frame[(frame.ts < NOW) & ~((frame.ts >= MAINTENANCE[0]) & (frame.ts < MAINTENANCE[1]))]
    days = frame.assign(day=frame.ts.dt.tz_convert(ZONE).dt.date).groupby("day")
    out = pd.DataFrame({"bad": days[bad].sum(), "total": days.size()})
    every = pd.date_range(HISTORY_START.date(), NOW.astimezone(TZ).date(), freq="D").date
    return out.reindex(every, fill_value=0)


def inputs(table: pd.DataFrame, allowed: Decimal, period_events: Decimal | None) -> Inputs:
    period_s = Decimal(int((MONTH_END - MONTH_START).total_seconds()))
    elapsed_s = Decimal(int((NOW - MONTH_START).total_seconds()))
    week_start = datetime.combine(table.index[-7], datetime.min.time(), TZ)
    days = [Day(Decimal(int(b)), Decimal(int(t))) for b, t in zip(table.bad, table.total)]
    split = list(table.index).index(MONTH_START.date())
    recent = days[-7:]
    return Inputs(
        days=days[split:],
        elapsed_s=elapsed_s,
        period_s=period_s,
        allowed_ratio=allowed,
        period_events=period_events,
        recent=Window(
            sum(d.bad for d in recent), sum(d.total for d in recent), Decimal(int((NOW - week_start).total_seconds()))
        ),
        history=days[:split],
    )


def at(seconds: Decimal) -> str:
    return (NOW + timedelta(seconds=int(seconds.to_integral_value()))).isoformat().replace("+00:00", "Z")


async def test_forecast_equals_a_recomputation_from_raw_rows(august, make_client):
    checks, calls = august
    client = await make_client(now=NOW, timezone=ZONE)
    r = await client.get(f"/api/slo/{SID}/forecast")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["period"], body["asOf"], body["openAlerts"]) == ("2025-08", "2025-08-20T12:00:30Z", [])
    assert body["method"]["name"] == "bootstrap" and body["method"]["simulations"] == forecast.SIMULATIONS
    slos = {s["slo"]: s for s in body["slos"]}
    assert set(slos) == {
        "availability",
        "latency_p50",
        "latency_p95",
        "latency_p99",
        "error_rate",
        "error_rate_5xx",
        "error_rate_4xx",
    }

    # Availability: down minutes (1-minute slots) per Seoul day, against 0.05 % of August's 44,640 minutes.
    slots = pd.DataFrame({"ts": [c.ts for c in checks], "bad": [not c.ok for c in checks]})
    slots["ts"] = pd.to_datetime(slots.ts, utc=True)
    table = daily(slots, "bad")
    month = table[table.index >= MONTH_START.date()]
    assert int(month.bad.sum()) == 4 + 3 + 2 * 3  # the maintenance failures are left out
    a = slos["availability"]
    expected = forecast.forecast(inputs(table, Decimal("0.0005"), Decimal(44640)))
    assert a["unit"] == "minutes" and a["budget"] == 22.32 and a["consumed"] == 13 and a["remaining"] == 9.32
    # 13 minutes in 19.875 days: 9.32 more take 14.25 days, past the month's end
    assert a["currentBurn"] == {
        "burnRate": pytest.approx(float(expected.current.burn_rate), abs=0.005),
        "exhausted": False,
        "exhaustsAt": None,
    }
    # the last 7 Seoul days (Aug 14 .. now): 3 + 6 minutes in 6 days 21 hours
    week_s = Decimal(int((NOW - datetime(2025, 8, 14, tzinfo=TZ)).total_seconds()))
    assert a["recentBurn"]["exhaustsAt"] == at(Decimal("9.32") * week_s / 9)
    assert a["missProbability"] == round(expected.miss_probability, 4)
    assert a["poolDays"] == len(table[table.total > 0])

    # Error rate: calls per Seoul day, against 0.1 % of the calls August is projected to have.
    frame = pd.DataFrame({"ts": [c.ts for c in calls], "bad": [c.status_code >= 500 for c in calls]})
    frame["ts"] = pd.to_datetime(frame.ts, utc=True)
    table = daily(frame, "bad")
    month = table[table.index >= MONTH_START.date()]
    e = slos["error_rate"]
    expected = forecast.forecast(inputs(table, Decimal("0.001"), None))
    period_s = Decimal(int((MONTH_END - MONTH_START).total_seconds()))
    budget = Decimal("0.001") * int(month.total.sum()) * period_s / Decimal(int((NOW - MONTH_START).total_seconds()))
    assert e["unit"] == "calls" and e["consumed"] == int(month.bad.sum()) and e["budget"] == round(budget)
    assert e["missProbability"] == round(expected.miss_probability, 4)
    for key in ("currentBurn", "recentBurn"):
        burn = getattr(expected, "current" if key == "currentBurn" else "recent")
        assert e[key]["exhaustsAt"] == (None if burn.in_s is None else at(burn.in_s))


async def test_an_unknown_service_is_404(conn, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    r = await client.get("/api/slo/nope/forecast")
    assert r.status_code == 404 and r.json()["error"] == "not_found" and "nope" in r.json()["message"]


async def test_a_service_without_data_forecasts_nothing(conn, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get(f"/api/slo/{SID}/forecast")).json()
    for slo in body["slos"]:
        assert slo["missProbability"] is None and slo["consumed"] == 0 and not slo["alerting"]
        assert slo["currentBurn"]["exhaustsAt"] is None and slo["recentBurn"]["exhaustsAt"] is None
