"""Capacity in the usage trends (docs/sla-math.md, Capacity): each day's calls against the tier's daily
request quota, against pandas over the raw calls with days cut in the reporting zone (UTC, and New
York, whose 9 March 2025 lasts 23 hours); and the days until the quota at the Theil–Sen trend of the
last 28 complete days: a known day for a seeded linear growth, null when declining or unlimited, 0
when the latest day is already above the quota."""

from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.ingest.service import ApiCallRow, write_api_calls
from app.sla.tiers import TIERS
from app.trends.capacity import capacity

SID = "curp-verifier"  # a Developer service (services.toml): 1,000 calls a day
QUOTA = 1_000  # seeds/002, Tier 4: "API 요청: 1,000/일"
NY = "America/New_York"
NOW = datetime(2025, 3, 20, 16, 0, tzinfo=timezone.utc)  # 20 March, mid-day in UTC and New York
TODAY = date(2025, 3, 20)


def spread(zone: ZoneInfo, day: date, n: int, tag: str) -> list[ApiCallRow]:
    """n calls of SID spread over the local day (elapsed time: a 23-hour day is 23 hours)."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)
    following = day + timedelta(days=1)
    length = datetime(following.year, following.month, following.day, tzinfo=zone).astimezone(timezone.utc) - start
    return [ApiCallRow(start + length * i / n, SID, "/v1", "GET", 200, 50, f"{tag}-{day}-{i}") for i in range(int(n))]


def per_day(zone: ZoneInfo, counts: dict[date, int]) -> list[ApiCallRow]:
    return [row for day, n in counts.items() for row in spread(zone, day, n, "c")]


@pytest.fixture
async def tier(conn):
    """Set SID's tier for a test; the catalog's tier comes back after it."""
    before = await conn.fetchval("SELECT tier FROM services WHERE id = $1", SID)

    async def set_tier(name: str) -> None:
        await conn.execute("UPDATE services SET tier = $2 WHERE id = $1", SID, name)

    yield set_tier
    await set_tier(before)


async def capacity_of(make_client, zone_name: str) -> dict:
    client = await make_client(now=NOW, timezone=zone_name)
    response = await client.get(f"/api/usage/trends/{SID}?months=3")
    assert response.status_code == 200, response.text
    return response.json()


def half_up(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


def theil_sen_oracle(calls: list[int]) -> tuple[float, float]:
    """Theil–Sen in floating point with numpy: the median of the pairwise slopes, then the median of
    calls − slope × index."""
    y = np.asarray(calls, dtype=float)
    i, j = np.triu_indices(len(y), k=1)
    slope = float(np.median((y[j] - y[i]) / (j - i)))
    return slope, float(np.median(y - slope * np.arange(len(y))))


@pytest.mark.parametrize("zone_name", ["UTC", NY])
async def test_daily_usage_against_the_quota_equals_pandas(conn, make_client, zone_name):
    zone = ZoneInfo(zone_name)
    rng = np.random.default_rng(21)
    counts = {TODAY - timedelta(days=back): int(rng.integers(0, 60)) for back in range(45, 0, -1)}
    counts[TODAY] = 17
    counts[date(2025, 3, 9)] = 1_001  # New York's 23-hour day: just above the quota
    counts[date(2025, 3, 10)] = 1_000  # at the quota: not above it
    counts[date(2025, 2, 14)] = 400
    rows = [r for r in per_day(zone, counts) if r.ts <= NOW]  # today so far
    await write_api_calls(conn, rows, now=NOW)
    body = await capacity_of(make_client, zone_name)

    frame = pd.DataFrame(rows, columns=ApiCallRow._fields)
    frame["day"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(zone).dt.date
    days = list(pd.date_range("2025-01-01", TODAY.isoformat(), freq="D").date)
    calls = frame.groupby("day").size().reindex(days, fill_value=0)
    assert [(d["date"], d["calls"]) for d in body["daily"]] == [(d.isoformat(), int(n)) for d, n in calls.items()]
    assert [d["percentOfQuota"] for d in body["daily"]] == [half_up(Decimal(int(n)) * 100 / QUOTA) for n in calls]

    capacity = body["capacity"]
    over = [d.isoformat() for d, n in calls.items() if n > QUOTA]
    assert over == ["2025-03-09"]  # the data can fail the test: one day above the quota, one at it
    assert capacity["tier"] == "developer" and capacity["dailyRequests"] == QUOTA
    assert (capacity["daysOverQuota"], capacity["datesOverQuota"]) == (1, over)
    assert (capacity["peakDay"], capacity["peakRequests"]) == ("2025-03-09", 1_001)
    assert capacity["peakPercentOfQuota"] == 100.1

    fitted = calls[[d for d in days if d < TODAY]].iloc[-28:]
    fitted = fitted.loc[fitted.ne(0).idxmax() :]  # from the first day with calls
    slope, intercept = theil_sen_oracle([int(n) for n in fitted])
    trend = capacity["trend"]
    assert (trend["firstDay"], trend["lastDay"], trend["days"]) == (
        fitted.index[0].isoformat(),
        "2025-03-19",
        len(fitted),
    )
    assert trend["slopeCallsPerDay"] == pytest.approx(round(slope, 2), abs=0.005)
    assert trend["fittedCallsToday"] == max(0, int(np.floor(intercept + slope * len(fitted) + 0.5)))


async def test_linear_growth_reaches_the_quota_on_the_known_day(conn, make_client):
    """100 + 20 × i calls on the 28 days before today (across New York's 23-hour 9 March): today is
    i = 28 (660 calls fitted), the quota is reached at i = 45 (100 + 20 × 45 = 1,000): 17 days away."""
    zone = ZoneInfo(NY)
    first = TODAY - timedelta(days=28)
    counts = {first + timedelta(days=i): 100 + 20 * i for i in range(28)}
    counts[first - timedelta(days=3)] = 900  # older than the 28 days: not fitted
    await write_api_calls(conn, per_day(zone, counts), now=NOW)
    capacity = (await capacity_of(make_client, NY))["capacity"]
    assert capacity["trend"]["slopeCallsPerDay"] == 20
    assert capacity["trend"]["fittedCallsToday"] == 660
    assert (capacity["trend"]["firstDay"], capacity["trend"]["days"]) == (first.isoformat(), 28)
    assert capacity["daysUntilQuota"] == 17
    assert capacity["quotaReachedOn"] == "2025-04-06"
    assert capacity["note"] is None


async def test_the_trend_is_robust_to_a_single_outage_day(conn, make_client):
    """Theil–Sen: an outage day (0 calls) among the linear days leaves the day the quota is reached
    where it was; least squares would move it ten days later (docs/sla-math.md, Capacity)."""
    zone = ZoneInfo(NY)
    first = TODAY - timedelta(days=28)
    counts = {first + timedelta(days=i): 100 + 20 * i for i in range(28)}
    counts[TODAY - timedelta(days=2)] = 0
    await write_api_calls(conn, per_day(zone, counts), now=NOW)
    capacity = (await capacity_of(make_client, NY))["capacity"]
    assert capacity["daysUntilQuota"] == 17
    slope, intercept = np.polyfit(np.arange(28), [counts.get(first + timedelta(days=i), 0) for i in range(28)], 1)
    least_squares_days = int(np.ceil((QUOTA - intercept) / slope)) - 28
    assert abs(least_squares_days - 17) > 1  # the data can fail the test: least squares is thrown off


async def test_a_declining_trend_never_reaches_the_quota(conn, make_client):
    first = TODAY - timedelta(days=28)
    counts = {first + timedelta(days=i): 400 - 10 * i for i in range(28)}
    await write_api_calls(conn, per_day(ZoneInfo("UTC"), counts), now=NOW)
    capacity = (await capacity_of(make_client, "UTC"))["capacity"]
    assert capacity["trend"]["slopeCallsPerDay"] == -10
    assert capacity["daysUntilQuota"] is None and capacity["quotaReachedOn"] is None
    assert "declining" in capacity["note"]


async def test_an_unlimited_tier_has_no_quota_and_no_days_until(conn, make_client, tier):
    await tier("enterprise_plus")
    first = TODAY - timedelta(days=28)
    counts = {first + timedelta(days=i): 100 + 20 * i for i in range(28)}
    await write_api_calls(conn, per_day(ZoneInfo("UTC"), counts), now=NOW)
    body = await capacity_of(make_client, "UTC")
    capacity = body["capacity"]
    assert (capacity["tier"], capacity["dailyRequests"], capacity["peakPercentOfQuota"]) == (
        "enterprise_plus",
        None,
        None,
    )
    assert capacity["daysOverQuota"] == 0 and capacity["daysUntilQuota"] is None
    assert "unlimited" in capacity["note"]
    assert capacity["trend"]["slopeCallsPerDay"] == 20  # the trend is still stated
    assert {d["percentOfQuota"] for d in body["daily"]} == {None}


@pytest.mark.parametrize("over", ["yesterday", "today"])
async def test_already_above_the_quota_is_zero_days(conn, make_client, over):
    """1,001 calls on the latest complete day, or so far today, with too few days for a trend."""
    start = datetime(2025, 3, 19 if over == "yesterday" else 20, tzinfo=timezone.utc)  # NOW: 20 March 16:00
    rows = [ApiCallRow(start + timedelta(seconds=i), SID, "/v1", "GET", 200, 50, f"over-{i}") for i in range(1_001)]
    await write_api_calls(conn, rows, now=NOW)
    capacity = (await capacity_of(make_client, "UTC"))["capacity"]
    assert capacity["daysUntilQuota"] == 0 and capacity["quotaReachedOn"] == TODAY.isoformat()
    assert capacity["trend"]["days"] == 0  # no trend was needed


def days_of(calls: list[int]) -> list[tuple[date, int]]:
    """calls on the days before TODAY, in order, and TODAY with none so far."""
    start = TODAY - timedelta(days=len(calls))
    return [(start + timedelta(days=i), n) for i, n in enumerate(calls)] + [(TODAY, 0)]


@pytest.mark.parametrize(
    ("calls", "days", "note"),
    [
        ([0] * 30 + [500] * 6, None, "fewer than 7"),  # six days with calls: no trend
        ([0] * 30 + [500] * 7, None, "flat"),  # seven: a flat trend
        ([500 + i % 2 for i in range(28)], None, "flat"),  # the median pairwise slope of a zigzag is 0
        ([2 * i for i in range(28)], 472, None),  # 2 a day from 0: day 500 reaches 1,000, today is day 28
        ([90 + i // 4 for i in range(28)], 3614, None),  # a quarter a day from 89.625: day 3,642
        ([80 + i // 4 for i in range(28)], None, "more than 3650 days"),  # from 79.625: day 3,682, 3,654 away
        ([1000 - 28 + i for i in range(28)], 0, None),  # today's fitted calls are exactly the quota
        ([1000 - 29 + i for i in range(28)], 1, None),  # tomorrow's are
        ([1_001] + [0] * 27, None, "flat"),  # above the quota 28 days ago, not on the latest day: not 0
    ],
)
def test_days_until_quota_edges(calls, days, note):
    result = capacity(TIERS["developer"], days_of(calls), TODAY)
    assert result.days_until_quota == days
    assert (note is None and result.note is None) or (result.note is not None and note in result.note)
