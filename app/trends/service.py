"""Usage trends (pandas): monthly and daily calls, error rate and P95 latency, month-over-month
growth, a linear forecast with its method stated, and the calls against the tier's daily quota with the
days until it at the current trend (app/trends/capacity.py). Calls come from the daily usage rollup (kept
forever); P95 from the raw rows, or for a closed month from its frozen report (the same figure,
still there after the raw rows expire)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np
import pandas as pd

from app.formatting import rounded_percentage, utc_iso
from app.ingest.service import API_CALLS_SOURCE
from app.periods import Period, add_months, elapsed_seconds, local_date, month
from app.reports import queries as report_queries
from app.rollups import service as rollups
from app.sla.models import ServiceRef
from app.sla.tiers import TIERS
from app.trends import queries
from app.trends.capacity import capacity, percent_of_quota
from app.trends.models import DayUsage, Forecast, ForecastMonth, MonthUsage, UsageTrends

FORECAST_MONTHS = 3
METHOD = (
    "Ordinary least-squares straight line through the monthly call counts of the complete months shown "
    "(from the first month with calls; numpy.polyfit, degree 1), extrapolated month by month and floored at "
    "0. The running month is also projected by its run rate: calls so far / elapsed share of the month."
)


def window(months: int, now: datetime, zone: ZoneInfo) -> list[Period]:
    """The last `months` calendar months, the running one last."""
    current = local_date(now, zone).replace(day=1)
    return [month(d.year, d.month, zone) for d in (add_months(current, -back) for back in range(months - 1, -1, -1))]


async def _p95_by_month(
    conn: asyncpg.Connection, service_id: str, periods: list[Period], now: datetime
) -> dict[str, int | None]:
    start, end, zone = periods[0].start, periods[-1].end, periods[0].zone.key
    frozen = await conn.fetch(report_queries.LATEST_PER_MONTH, service_id, periods[0].first_day, periods[-1].first_day)
    result = {
        r["month"].strftime("%Y-%m"): json.loads(r["figures"])["responseTimes"]["percentiles"]["p95"] for r in frozen
    }
    live = await conn.fetch(queries.MONTHLY_P95, service_id, start, end, zone)
    for r in live:
        result.setdefault(r["month"].strftime("%Y-%m"), r["p95"])
    return result


def _growth(calls: pd.Series) -> pd.Series:
    previous = calls.shift(1)
    growth = (calls - previous) / previous * 100
    return growth.where(previous > 0)


def forecast(monthly: pd.DataFrame, periods: list[Period]) -> Forecast:
    """Linear trend over the complete months (from the first with calls); the next months extrapolated.
    `note` is set only when there is no forecast (the route answers without unset fields)."""
    complete = monthly[~monthly["partial"]]
    nonzero = complete.index[complete["calls"] > 0]
    fitted = complete.loc[nonzero[0] :] if len(nonzero) else complete.iloc[0:0]
    based_on = [str(m) for m in fitted["month"]]
    if len(fitted) < 2:
        return Forecast(
            method=METHOD,
            based_on=based_on,
            slope_calls_per_month=None,
            months=[],
            note="fewer than 2 complete months with calls: no forecast",
        )
    x = np.arange(len(fitted), dtype=float)
    slope, intercept = np.polyfit(x, fitted["calls"].to_numpy(dtype=float), 1)
    last = periods[-1] if monthly["partial"].iloc[-1] else None
    first_future = add_months(periods[-1].first_day, 0 if last else 1)
    months = []
    for step in range(FORECAST_MONTHS + (1 if last else 0)):
        day = add_months(first_future, step)
        index = len(fitted) + step
        months.append(
            ForecastMonth(month=f"{day.year:04d}-{day.month:02d}", calls=max(0, int(round(slope * index + intercept))))
        )
    return Forecast(method=METHOD, based_on=based_on, slope_calls_per_month=round(float(slope), 2), months=months)


async def trends(
    conn: asyncpg.Connection,
    service: asyncpg.Record,
    months: int,
    now: datetime,
    timezone_name: str,
    zone: ZoneInfo,
) -> UsageTrends:
    """Monthly and daily usage of the last `months` months with growth and a forecast. A month's
    `projected_calls` is set only on the running month (the route answers without unset fields)."""
    periods = window(months, now, zone)
    start, end = periods[0].start, periods[-1].end
    rows = await rollups.read(conn, rollups.USAGE_DAILY, timezone_name, [service["id"]], start, end)
    daily_p95 = {r["day"]: r["p95"] for r in await conn.fetch(queries.DAILY_P95, service["id"], start, end, zone.key)}
    today = local_date(now, zone)
    by_day = {local_date(r["bucket"], zone): r for r in rows}
    days = [d for p in periods for d in p.days() if d <= today]
    daily = pd.DataFrame(
        {
            "date": days,
            "calls": [by_day[d]["calls"] if d in by_day else 0 for d in days],
            "successful": [by_day[d]["ok_200"] if d in by_day else 0 for d in days],
            "errors": [by_day[d]["errors"] if d in by_day else 0 for d in days],
            "c4xx": [by_day[d]["c4xx"] if d in by_day else 0 for d in days],
            "c5xx": [by_day[d]["c5xx"] if d in by_day else 0 for d in days],
        }
    )
    daily["month"] = [f"{d.year:04d}-{d.month:02d}" for d in days]
    monthly = daily.groupby("month", sort=True)[["calls", "successful", "errors", "c4xx", "c5xx"]].sum()
    monthly = monthly.reindex([p.label for p in periods], fill_value=0).reset_index().rename(columns={"index": "month"})
    monthly["partial"] = [p.is_partial(now) for p in periods]
    monthly["growth"] = _growth(monthly["calls"].astype(float))
    p95 = await _p95_by_month(conn, service["id"], periods, now)
    tier = TIERS[service["tier"]]
    current = periods[-1]
    elapsed = elapsed_seconds(current.start, now) / current.seconds
    return UsageTrends(
        service=ServiceRef(id=service["id"], name=service["name"]),
        months=months,
        timezone=zone.key,
        as_of=utc_iso(now),
        source=API_CALLS_SOURCE,  # API calls: the service's own report
        monthly=[
            MonthUsage(
                month=r.month,
                partial=bool(r.partial),
                calls=int(r.calls),
                successful_calls=int(r.successful),
                error_calls=int(r.errors),
                error_rate=rounded_percentage(int(r.errors), int(r.calls)),
                client_errors=int(r.c4xx),
                server_errors=int(r.c5xx),
                p95_latency_ms=p95.get(r.month),
                growth_percent=None if r.partial or pd.isna(r.growth) else round(float(r.growth), 2),
                **({"projected_calls": int(round(r.calls / elapsed)) if elapsed > 0 else None} if r.partial else {}),
            )
            for r in monthly.itertuples()
        ],
        daily=[
            DayUsage(
                date=r.date.isoformat(),
                calls=int(r.calls),
                error_calls=int(r.errors),
                error_rate=rounded_percentage(int(r.errors), int(r.calls)),
                p95_latency_ms=daily_p95.get(r.date),
                percent_of_quota=percent_of_quota(int(r.calls), tier.daily_requests),
            )
            for r in daily.itertuples()
        ],
        forecast=forecast(monthly, periods),
        capacity=capacity(tier, list(zip(days, (int(n) for n in daily["calls"]))), today),
    )
