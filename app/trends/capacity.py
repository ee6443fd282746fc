"""Capacity: a service's calls per day against its tier's daily request quota, and the days until the
quota at the current trend (docs/sla-math.md, Capacity). The days are those of the usage trends (the
daily usage rollup, cut in the reporting zone), compared with the quota as a customer's statement
compares them (app/customers/statements.py `quota_use`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from app.customers.statements import quota_use
from app.sla.tiers import Tier
from app.trends.models import Capacity, CapacityTrend

TREND_DAYS = 28  # four whole weeks: every weekday weighs the same in the fit
MIN_TREND_DAYS = 7
HORIZON_DAYS = 3650  # further than ten years at this trend is no date worth stating
METHOD = (
    f"Theil–Sen straight line (the median of the slopes between every pair of days; the intercept the "
    f"median of calls − slope × day) through the calls of the last {TREND_DAYS} complete days (today "
    f"excluded; from the first day with calls, at least {MIN_TREND_DAYS}), computed exactly; the days "
    "until quota are those until the fitted calls of a day reach the quota."
)


@dataclass(frozen=True)
class Trend:
    """The fitted line: calls on day x (x = 0 on `first_day`) = intercept + slope × x."""

    first_day: date
    days: int
    slope: Fraction
    intercept: Fraction

    def calls_on(self, day: date) -> Fraction:
        return self.intercept + self.slope * (day - self.first_day).days


def _median(ordered: Sequence[Fraction]) -> Fraction:
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def theil_sen(calls: Sequence[int]) -> tuple[Fraction, Fraction]:
    """(slope, intercept) of calls against their index: the median pairwise slope, and the median of
    calls − slope × index. Exact (fractions), so a day that reaches the quota is decided exactly."""
    slopes = sorted(Fraction(calls[j] - calls[i], j - i) for i in range(len(calls)) for j in range(i + 1, len(calls)))
    slope = _median(slopes)
    return slope, _median(sorted(Fraction(y) - slope * x for x, y in enumerate(calls)))


def fit(daily: Sequence[tuple[date, int]], today: date) -> Trend | None:
    """The trend of the last TREND_DAYS complete days before `today`, from the first with calls; None
    with fewer than MIN_TREND_DAYS such days."""
    complete = [(d, n) for d, n in daily if d < today][-TREND_DAYS:]
    first = next((i for i, (_, n) in enumerate(complete) if n > 0), len(complete))
    used = complete[first:]
    if len(used) < MIN_TREND_DAYS:
        return None
    slope, intercept = theil_sen([n for _, n in used])
    return Trend(used[0][0], len(used), slope, intercept)


def percent_of_quota(calls: int, quota: int | None) -> float | None:
    """A day's calls as a share of the quota, half-up to 2 decimals; None when unlimited."""
    if quota is None:
        return None
    return float((Decimal(calls) * 100 / quota).quantize(Decimal("0.01"), ROUND_HALF_UP))


def days_until(
    trend: Trend | None, quota: int | None, today: date, over_already: bool
) -> tuple[int | None, str | None]:
    """Days from today until the fitted calls of a day reach the quota, and why there is no figure."""
    if quota is None:
        return None, "unlimited tier: no daily quota"
    if over_already:
        return 0, None
    if trend is None:
        return None, f"fewer than {MIN_TREND_DAYS} complete days with calls: no trend"
    if trend.slope <= 0:
        return None, "flat or declining trend: the quota is not reached"
    # The first whole day x with intercept + slope × x >= quota, counted from today.
    reached = math.ceil((quota - trend.intercept) / trend.slope)
    days = max(0, reached - (today - trend.first_day).days)
    if days > HORIZON_DAYS:
        return None, f"more than {HORIZON_DAYS} days away at this trend"
    return days, None


def capacity(tier: Tier, daily: Sequence[tuple[date, int]], today: date) -> Capacity:
    """The capacity section of the usage trends: usage against the quota over the days shown, the
    trend and the days until quota. `daily` is every day shown, in order, today (partial) last."""
    quota = tier.daily_requests
    use = quota_use([(d.isoformat(), n) for d, n in daily], quota)
    trend = fit(daily, today)
    complete = [n for d, n in daily if d < today]
    observed = complete[-1:] + [n for d, n in daily if d == today]  # the latest complete day, and today so far
    over_already = quota is not None and any(n > quota for n in observed)
    days, note = days_until(trend, quota, today, over_already)
    fitted_today = None if trend is None else max(0, math.floor(trend.calls_on(today) + Fraction(1, 2)))
    return Capacity(
        tier=tier.name,
        tier_label=tier.label,
        daily_requests=use.daily_requests,
        peak_day=use.peak_day,
        peak_requests=use.peak_requests,
        peak_percent_of_quota=use.peak_percent_of_quota,
        days_over_quota=use.days_over_quota,
        dates_over_quota=use.dates_over_quota,
        trend=CapacityTrend(
            method=METHOD,
            first_day=None if trend is None else trend.first_day.isoformat(),
            last_day=None if trend is None else (today - timedelta(days=1)).isoformat(),
            days=0 if trend is None else trend.days,
            slope_calls_per_day=None if trend is None else round(float(trend.slope), 2),
            fitted_calls_today=fitted_today,
        ),
        days_until_quota=days,
        quota_reached_on=None if days is None else (today + timedelta(days=days)).isoformat(),
        note=note,
    )
