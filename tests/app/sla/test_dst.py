"""Lengths of periods and days are elapsed time (docs/sla-math.md, Periods), in zones with daylight saving
time (23-, 25-, 23.5- and 24.5-hour days) and in fixed offsets of :30 and :45, checked against an
independent pandas computation from the raw rows in the three places a figure is read: right after
ingest (nothing materialised), after a refresh, and in the closed month's frozen report.

The data is made so that wall-clock lengths would give other answers: every day whose length is not
24 h holds a monitoring gap sized between 90 % of its elapsed expectation and 90 % of 24 h, so it is
judged `e` exactly when its true length says so; the first such day also holds a maintenance window
across the clock change and failures that make it a major outage when it is judged."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.ingest.service import CheckRow, write_checks
from app.periods import month
from app.reports import service as reports
from app.rollups import service as rollups

SID = "face-compare"  # enterprise tier: 99.95 %, interval 60 s
TARGET = Decimal("99.95")


@dataclass(frozen=True)
class Case:
    zone: str
    year: int
    month: int
    minutes: int  # the month's elapsed minutes, by hand

    @property
    def id(self) -> str:
        return f"{self.zone}-{self.year}-{self.month:02d}"


CASES = [
    Case("America/New_York", 2024, 3, 31 * 1440 - 60),  # spring forward on the 10th: 44,580
    Case("America/New_York", 2024, 11, 30 * 1440 + 60),  # fall back on the 3rd: 43,260
    Case("Europe/Berlin", 2024, 3, 31 * 1440 - 60),  # the 31st
    Case("Europe/Berlin", 2024, 10, 31 * 1440 + 60),  # the 27th
    Case("Australia/Lord_Howe", 2024, 4, 30 * 1440 + 30),  # 30-minute shift back on the 7th
    Case("Australia/Lord_Howe", 2024, 10, 31 * 1440 - 30),  # 30-minute shift forward on the 6th
    Case("Asia/Kolkata", 2024, 3, 31 * 1440),  # +05:30
    Case("Asia/Kathmandu", 2024, 3, 31 * 1440),  # +05:45
]


def local_midnight(day: date, tz: ZoneInfo) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(tz)


def day_minutes(day: date, tz: ZoneInfo) -> int:
    # pandas subtracts aware timestamps as instants: elapsed time, independently of app.periods
    return int((local_midnight(day + timedelta(days=1), tz) - local_midnight(day, tz)).total_seconds() // 60)


@dataclass
class History:
    case: Case
    tz: ZoneInfo
    days: list[date]
    slots: pd.DataFrame  # ts (UTC), ok, maintenance, day (local)
    maintenance: tuple[datetime, datetime] | None
    now: datetime


def make_history(case: Case, rng) -> History:
    tz = ZoneInfo(case.zone)
    first = date(case.year, case.month, 1)
    days = [first + timedelta(days=i) for i in range((month(case.year, case.month, tz).end_day - first).days)]
    lo = local_midnight(first, tz).tz_convert("UTC") - pd.Timedelta(days=1)
    hi = local_midnight(days[-1] + timedelta(days=1), tz).tz_convert("UTC") + pd.Timedelta(days=1)
    ts = pd.date_range(lo, hi, freq="min", inclusive="left")
    frame = pd.DataFrame({"ts": ts, "ok": rng.random(len(ts)) >= 0.0002})
    frame["day"] = frame["ts"].dt.tz_convert(tz).dt.date
    keep = np.ones(len(frame), dtype=bool)

    odd = [d for d in days if day_minutes(d, tz) != 1440]
    maintenance = None
    if odd:
        # A two-hour window (elapsed) from 01:00 local across the change, announced long before.
        start = local_midnight(odd[0], tz) + pd.Timedelta(hours=1)
        maintenance = (
            start.tz_convert("UTC").to_pydatetime(),
            (start + pd.Timedelta(hours=2)).tz_convert("UTC").to_pydatetime(),
        )
    frame["maintenance"] = (
        False if maintenance is None else (frame["ts"] >= maintenance[0]) & (frame["ts"] < maintenance[1])
    )
    for i, day in enumerate(odd):
        length = day_minutes(day, tz)
        in_maintenance = 120 if i == 0 else 0
        true_expected, wall_expected = length - in_maintenance, 1440 - in_maintenance
        judged = round(0.45 * (true_expected + wall_expected))  # between the two 90 % thresholds
        gap = true_expected - judged
        day_rows = np.flatnonzero((frame["day"] == day).to_numpy() & ~frame["maintenance"].to_numpy())
        keep[day_rows[-gap - 30 : -30]] = False  # a gap late in the day, away from the change
        if i == 0:
            kept = day_rows[keep[day_rows]]
            frame.loc[frame.index[kept[600 : 600 + len(kept) // 15]], "ok"] = False  # 6.7 % failed: a major outage
    if not odd:
        # Fixed offsets: a day judged `e`, a gap across local midnight that leaves both days judged.
        for day, (start_min, gap) in {days[9]: (600, 200), days[21]: (1340, 200)}.items():
            day_rows = np.flatnonzero((frame["day"] == day).to_numpy())
            keep[day_rows[0] + start_min : day_rows[0] + start_min + gap] = False
    # Every month: a partial outage (10 failed slots) and a major outage (7 % failed).
    for day, failed in ((days[14], 10), (days[19], 100)):
        day_rows = np.flatnonzero((frame["day"] == day).to_numpy())
        frame.loc[frame.index[day_rows[100 : 100 + failed]], "ok"] = False
    frame = frame[keep].reset_index(drop=True)
    now = (local_midnight(days[-1] + timedelta(days=1), tz) + pd.Timedelta(days=10)).tz_convert("UTC").to_pydatetime()
    return History(case, tz, days, frame, maintenance, now)


def oracle(history: History, wall_clock: bool = False) -> dict:
    """The month's figures from the raw rows alone (`wall_clock`: with the mistake of 24-hour days)."""
    tz, days = history.tz, history.days
    slots = history.slots[history.slots["day"].isin(days)]
    judged = slots[~slots["maintenance"]]
    statuses, expected_total = [], 0
    for day in days:
        lo, hi = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        expected = 1440.0 if wall_clock else (hi - lo).total_seconds() / 60
        if history.maintenance is not None:
            m_lo, m_hi = (pd.Timestamp(t) for t in history.maintenance)
            expected -= max(0.0, (min(hi, m_hi) - max(lo, m_lo)).total_seconds() / 60)
        expected_total += expected
        of_day = judged[judged["day"] == day]
        n, ok = len(of_day), int(of_day["ok"].sum())
        if n == 0 and not slots[slots["day"] == day]["maintenance"].any():
            statuses.append("nd")
        elif n < 0.9 * expected:
            statuses.append("e")
        elif ok * 100 < 95 * n:
            statuses.append("mo")
        elif Decimal(ok) * 100 < TARGET * n:
            statuses.append("po")
        else:
            statuses.append("o")
    total, ok = len(judged), int(judged["ok"].sum())
    month_minutes = sum(day_minutes(d, tz) for d in days)
    budget = (1 - TARGET / 100) * month_minutes
    return {
        "minutes": month_minutes,
        "expectedChecks": int(expected_total),
        "totalChecks": total,
        "successfulChecks": ok,
        "coverage": round(total / expected_total, 4),
        "statuses": statuses,
        "budget": budget,
        "budgetRemaining": budget - (total - ok),
    }


async def write(conn, history: History) -> None:
    rows = [
        CheckRow(ts.to_pydatetime(), SID, "seoul", bool(ok), 200 if ok else 503, 300, None if ok else "http_error")
        for ts, ok in zip(history.slots["ts"], history.slots["ok"])
    ]
    await write_checks(conn, rows, now=history.now)
    if history.maintenance is not None:
        await conn.execute(
            "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) "
            "VALUES ('DST window', $1, $2, $3)",
            [SID],
            *history.maintenance,
        )


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def assert_live_figures(client, history: History, expected: dict) -> None:
    case = history.case
    query = f"period=monthly&year={case.year}&month={case.month}"
    metrics = (await client.get(f"/api/sla/availability/{SID}?{query}")).json()["metrics"]
    assert (metrics["expectedChecks"], metrics["coverage"]) == (expected["expectedChecks"], expected["coverage"])
    assert (metrics["totalChecks"], metrics["successfulChecks"]) == (
        expected["totalChecks"],
        expected["successfulChecks"],
    )
    grid = (await client.get(f"/api/uptime/{SID}?months=1&startDate={case.year}-{case.month:02d}-01")).json()
    assert grid["months"][0]["days"] == expected["statuses"]
    status = (await client.get("/api/system-status")).json()
    service = next(s for s in status["services"] if s["id"] == SID)
    codes = service["uptimeData"]  # the last 90 days, today last
    first = len(codes) - 1 - (history.now.astimezone(history.tz).date() - history.days[0]).days
    assert codes[first : first + len(history.days)] == expected["statuses"]
    slos = (await client.get(f"/api/slo/{SID}?{query}")).json()
    availability = next(s for s in slos["slos"] if s["slo"] == "availability")
    assert Decimal(str(availability["errorBudget"]["total"])) == cents(expected["budget"])
    assert Decimal(str(availability["errorBudget"]["remaining"])) == cents(expected["budgetRemaining"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_lengths_are_elapsed_time_in_every_zone(conn, make_client, case):
    history = make_history(case, np.random.default_rng(7))
    expected = oracle(history)
    assert expected["minutes"] == case.minutes  # the oracle agrees with the calendar
    assert {"mo", "po", "o"} <= set(expected["statuses"])  # the data exercises the rules
    if "Asia" not in case.zone:  # where days are not 24 h, wall-clock lengths would judge them otherwise
        assert oracle(history, wall_clock=True)["statuses"] != expected["statuses"]

    await write(conn, history)
    client = await make_client(now=history.now, timezone=case.zone)
    await assert_live_figures(client, history, expected)  # right after ingest: nothing materialised

    await rollups.refresh(conn, case.zone, history.now)
    await assert_live_figures(client, history, expected)  # after a refresh

    period = month(case.year, case.month, history.tz)
    assert SID in await reports.close_month(conn, period, history.now, case.zone)
    label = f"{case.year}-{case.month:02d}"
    report = (await client.get(f"/api/sla/reports/{SID}/{label}.json")).json()  # the closed month
    assert report["report"]["status"] == "final"
    assert report["period"]["minutes"] == case.minutes
    assert report["period"]["start"] == local_midnight(history.days[0], history.tz).isoformat()
    assert report["availability"]["expectedChecks"] == expected["expectedChecks"]
    assert report["availability"]["coverage"] == expected["coverage"]
    assert [d["status"] for d in report["availability"]["daily"]] == expected["statuses"]
    assert Decimal(str(report["slo"]["errorBudget"]["totalMinutes"])) == expected["budget"]
    assert Decimal(str(report["slo"]["errorBudget"]["remainingMinutes"])) == expected["budgetRemaining"]
    assert month(case.year, case.month, history.tz).minutes == case.minutes
