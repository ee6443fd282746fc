"""Forecasts of SLO definitions (app/slo/definitions/forecast.py): known outcomes of the rolling
window's exhaustion (a steady burn, none, a burn offset by old failures dropping out), and
GET /api/slo-definitions/{name}/forecast against an independent pandas computation from the raw
rows: a calls SLI filtered on one endpoint, in America/New_York across the end of DST, a calendar
month and a rolling 7-day window, a maintenance window with bad calls inside (left out)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.ingest.service import ApiCallRow, write_api_calls
from app.slo import forecast
from app.slo.definitions import store
from app.slo.definitions.forecast import rolling_exhaustion, rolling_forecast
from app.slo.definitions.model import Definition, Filter, Sli, Window
from app.slo.forecast import Day, Inputs
from app.slo.forecast import Window as Recent
from tests.app.slo.test_forecast_api import NOW as AUGUST_NOW
from tests.app.slo.test_forecast_api import SID as AUGUST_SID
from tests.app.slo.test_forecast_api import ZONE as SEOUL
from tests.app.slo.test_forecast_api import august  # noqa: F401

DAY = Decimal(86_400)
ZONE = "America/New_York"
TZ = ZoneInfo(ZONE)
SID = "face-compare"
NOW = datetime(2025, 11, 20, 17, 0, 30, tzinfo=timezone.utc)  # New York left DST on 2 November
START = datetime(2025, 9, 15, tzinfo=timezone.utc)
MONTH_START = datetime(2025, 11, 1, tzinfo=TZ)
MONTH_END = datetime(2025, 12, 1, tzinfo=TZ)
MAINTENANCE = (datetime(2025, 11, 10, 1, 0, tzinfo=timezone.utc), datetime(2025, 11, 10, 3, 0, tzinfo=timezone.utc))
ENDPOINT = "/v1/compare"
SLI = Sli("calls", events=Filter(endpoints=(ENDPOINT,)), bad=Filter(statuses=("5xx",)))
MONTHLY = Definition("compare-month", "Compare, month", "", (SID,), SLI, Window("calendar", unit="month"), Decimal(99))
WEEKLY = Definition("compare-7d", "Compare, 7 days", "", (SID,), SLI, Window("rolling", days=7), Decimal(99))


# --- the rolling window's exhaustion: known outcomes -------------------------------------------------


def test_a_steady_burn_into_a_clean_window_exhausts_on_the_known_day():
    # 28 days, budget 40 minutes, 10 spent over the last 5 days: at 2 a day, clean old days dropping
    # out, the 30 left take 15 days.
    slices = [Decimal(0)] * 23 + [Decimal(2)] * 5
    assert rolling_exhaustion(slices, Decimal(40), Decimal(2) / DAY) == 15 * DAY


def test_no_burn_never_exhausts_and_a_spent_budget_is_exhausted_now():
    assert rolling_exhaustion([Decimal(0)] * 28, Decimal(40), Decimal(0)) is None
    assert rolling_exhaustion([Decimal(3)] * 28, Decimal(40), Decimal(3) / DAY) == 0  # 84 > 40
    # a window burning steadily at its own rate below budget holds: old days drop as new ones come
    assert rolling_exhaustion([Decimal(1)] * 28, Decimal(40), Decimal(1) / DAY) is None


def test_old_failures_dropping_out_delay_the_exhaustion():
    # 30 spent on the oldest day, none since, budget 40: at 5 a day the first day frees 30 - 5 (level 5),
    # then 5 a day from 5 reaches 40 after 7 more days.
    slices = [Decimal(30)] + [Decimal(0)] * 27
    assert rolling_exhaustion(slices, Decimal(40), Decimal(5) / DAY) == 8 * DAY


def test_a_clean_rolling_window_forecasts_no_miss():
    series = [Day(Decimal(0), Decimal(1440))] * 60
    _, result = rolling_forecast(series, 28, Decimal("0.001"), checks=True)
    assert result.budget == Decimal("40.320") and result.consumed == 0
    assert result.current.in_s is None and result.recent.in_s is None
    assert result.miss_probability == 0.0


def test_a_rolling_window_past_its_budget_tomorrow_whatever_comes_misses_for_sure():
    # 28 days at 2 bad minutes a day: 56 of 40.32; dropping one day leaves 54, still past.
    series = [Day(Decimal(2), Decimal(1440))] * 60
    _, result = rolling_forecast(series, 28, Decimal("0.001"), checks=True)
    assert result.current.exhausted and result.miss_probability == 1.0


# --- the API against pandas ---------------------------------------------------------------------------


def make_calls() -> list[ApiCallRow]:
    """Every hour at :07, 4 calls to the endpoint and 2 to another; 5xx now and then, more in the last
    36 hours, a burst in the maintenance window (left out), 5xx on the other endpoint (filtered out)."""
    rows = []
    hours = int((NOW - START).total_seconds() // 3600) + 1
    for hour in range(hours):
        at = START + timedelta(hours=hour, minutes=7)
        november = at >= MONTH_START
        in_maintenance = MAINTENANCE[0] <= at < MAINTENANCE[1]
        for k in range(6):
            endpoint = ENDPOINT if k < 4 else "/v1/other"
            burst = at >= NOW - timedelta(hours=36) and hour % 9 == 0  # burning faster lately
            bad = in_maintenance or k >= 4 or (k == 0 and (hour % (71 if november else 53) == 0 or burst))
            status = 503 if bad else 200
            rows.append(ApiCallRow(at + timedelta(seconds=k), SID, endpoint, "POST", status, 80, f"r{hour}-{k}"))
    return rows


@pytest.fixture
async def calls(conn):
    rows = make_calls()
    await write_api_calls(conn, rows, now=NOW + timedelta(hours=1))
    await conn.execute(
        "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) "
        "VALUES ('DB upgrade', $1, $2, $3)",
        [SID],
        *MAINTENANCE,
    )
    await store.put(conn, MONTHLY, "api")
    await store.put(conn, WEEKLY, "api")
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime([r.ts for r in rows], utc=True),
            "endpoint": [r.endpoint for r in rows],
            "bad": [r.status_code >= 500 for r in rows],
        }
    )
    kept = (frame.endpoint == ENDPOINT) & (frame.ts < NOW)
    kept &= ~((frame.ts >= MAINTENANCE[0]) & (frame.ts < MAINTENANCE[1]))
    return frame[kept]


def at(seconds: Decimal) -> str:
    return (NOW + timedelta(seconds=int(seconds.to_integral_value()))).isoformat().replace("+00:00", "Z")


async def test_a_calendar_month_equals_a_recomputation_from_raw_rows(calls, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    r = await client.get("/api/slo-definitions/compare-month/forecast")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["window"] == {
        "kind": "calendar",
        "label": "2025-11",
        "start": "2025-11-01T04:00:00Z",
        "forecastEnd": "2025-12-01T05:00:00Z",
    }
    assert body["openAlerts"] == [] and body["asOf"] == "2025-11-20T17:00:30Z"
    (row,) = body["services"]

    history_first = MONTH_START.date() - timedelta(days=90)
    days = calls.assign(day=calls.ts.dt.tz_convert(ZONE).dt.date).groupby("day")
    table = pd.DataFrame({"bad": days.bad.sum(), "total": days.size()})
    every = pd.date_range(history_first, NOW.astimezone(TZ).date(), freq="D").date
    table = table.reindex(every, fill_value=0)
    series = [Day(Decimal(int(b)), Decimal(int(t))) for b, t in zip(table.bad, table.total)]
    split = list(table.index).index(MONTH_START.date())
    week_start = datetime.combine(table.index[-7], datetime.min.time(), TZ)
    recent = series[-7:]
    elapsed_s = Decimal(int((NOW - MONTH_START).total_seconds()))
    expected_inputs = Inputs(
        days=series[split:],
        elapsed_s=elapsed_s,
        period_s=Decimal(int((MONTH_END.astimezone(timezone.utc) - MONTH_START).total_seconds())),  # 721 hours
        allowed_ratio=Decimal("0.01"),
        period_events=None,
        recent=Recent(
            sum(d.bad for d in recent),
            sum(d.total for d in recent),
            Decimal(int((NOW - week_start).total_seconds())),
        ),
        history=series[:split],
    )
    expected = forecast.forecast(expected_inputs)
    month = table[table.index >= MONTH_START.date()]
    assert row["unit"] == "calls" and row["consumed"] == int(month.bad.sum())
    assert row["budget"] == round(Decimal("0.01") * int(month.total.sum()) * 721 * 3600 / elapsed_s)
    assert row["missProbability"] == round(expected.miss_probability, 4)
    assert row["poolDays"] == expected.pool_days == len(table[table.total > 0])
    for key, burn in (("currentBurn", expected.current), ("recentBurn", expected.recent)):
        assert row[key]["exhaustsAt"] == (None if burn.in_s is None else at(burn.in_s))
        assert row[key]["burnRate"] == pytest.approx(float(burn.burn_rate), abs=0.005)


async def test_a_rolling_window_equals_a_recomputation_from_raw_rows(calls, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get("/api/slo-definitions/compare-7d/forecast")).json()
    assert body["window"]["label"] == "7d rolling" and body["window"]["forecastEnd"] == "2025-11-21T17:00:30Z"
    (row,) = body["services"]

    # 24-hour slices ending now, oldest first: the 7 of the window and 90 before
    age = ((pd.Timestamp(NOW) - calls.ts).dt.total_seconds() // 86_400).astype(int)
    table = calls.assign(age=age).groupby("age").agg(bad=("bad", "sum"), total=("bad", "size"))
    table = table.reindex(range(96, -1, -1), fill_value=0)
    bad, total = table.bad.to_numpy(), table.total.to_numpy()
    window_bad, window_total = int(bad[-7:].sum()), int(total[-7:].sum())
    budget = Decimal("0.01") * window_total
    assert row["consumed"] == window_bad and row["budget"] == round(budget)
    # exhaustion at the last 7 days' burn (= the window's here): minute by minute, the oldest slices
    # dropping out evenly, against the forecast's exact time (within a minute)
    minutes = np.arange(1, 7 * 1440 + 1)
    rate = window_bad / (7 * 1440)
    dropped = np.concatenate([np.full(1440, b / 1440) for b in bad[-7:]]).cumsum()
    level = window_bad - dropped + rate * minutes
    crossed = np.nonzero(level >= float(budget))[0]
    # 6 of 6.72 bad calls, 5 of them in the last 2 days: the clean old days drop out, it runs out
    assert row["consumed"] == 6 and len(crossed)
    expected_at = NOW + timedelta(minutes=int(minutes[crossed[0]]))
    assert abs(datetime.fromisoformat(row["recentBurn"]["exhaustsAt"]) - expected_at) <= timedelta(minutes=1)
    assert row["currentBurn"] == row["recentBurn"]  # a 7-day window: its burn is the last 7 days'
    assert row["alerting"] and "exhaustion_recent_burn" in row["alertReasons"]
    # the probability: the window 24 h from now, its oldest slice dropped and one day simulated
    series = [Day(Decimal(int(b)), Decimal(int(t))) for b, t in zip(bad, total)]
    ahead = Inputs(
        days=series[-6:],
        elapsed_s=6 * DAY,
        period_s=7 * DAY,
        allowed_ratio=Decimal("0.01"),
        period_events=Decimal(window_total),
        recent=Recent(Decimal(window_bad), Decimal(window_total), 7 * DAY),
        history=series[:-6],
    )
    expected = forecast.forecast(ahead)
    assert row["missProbability"] == round(expected.miss_probability, 4)
    assert row["poolDays"] == expected.pool_days


async def test_an_unknown_definition_is_404_and_a_tier_one_forecasts(conn, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    r = await client.get("/api/slo-definitions/nope/forecast")
    assert r.status_code == 404 and r.json()["error"] == "not_found" and "nope" in r.json()["message"]
    listed = (await client.get("/api/slo-definitions")).json()["definitions"]
    tier = next(d["name"] for d in listed if d["readOnly"])
    r = await client.get(f"/api/slo-definitions/{tier}/forecast")
    assert r.status_code == 200, r.text
    for row in r.json()["services"]:  # no data: nothing to learn from, nothing spent
        assert row["missProbability"] is None and row["consumed"] == 0 and not row["alerting"]


async def test_a_plain_monthly_availability_forecasts_as_the_tier_slo(august, conn, make_client):  # noqa: F811
    """A stored definition saying what the tier's availability SLO says (ok slots, calendar month,
    99.95 %) reads the daily rollups as the engine does, and forecasts exactly as the tier SLO."""
    plain = Definition(
        "face-month",
        "Face Compare availability, month",
        "",
        (AUGUST_SID,),
        Sli("checks", good=Filter(ok=True)),
        Window("calendar", unit="month"),
        Decimal("99.95"),
    )
    await store.put(conn, plain, "api")
    client = await make_client(now=AUGUST_NOW, timezone=SEOUL)
    tier = (await client.get(f"/api/slo/{AUGUST_SID}/forecast")).json()
    (availability,) = [s for s in tier["slos"] if s["slo"] == "availability"]
    body = (await client.get("/api/slo-definitions/face-month/forecast")).json()
    assert body["window"]["label"] == tier["period"] == "2025-08"
    (row,) = body["services"]
    for key in ("unit", "budget", "consumed", "remaining", "currentBurn", "recentBurn", "missProbability", "poolDays"):
        assert row[key] == availability[key], key
    assert row["consumed"] == 13  # the maintenance failures left out
