"""The forecasts' backtest (docs/sla-math.md "Forecasts", benchmarks/bench_forecast.py): seeded
histories of many services' months with known outcomes, forecast from inside each month with only
what was known then, scored against what happened (Brier score, calibration) beside the naive
straight-line baseline and
the climatology (the share of the service's last months that missed). Pure and seeded: one seed, one result.

A seeded service has bursty outages (a Poisson number a day, log-normal durations: most days none,
a few long ones) and months that run better or worse than its usual (a log-normal factor on the
outage rate), for availability in minutes; or, for an error-rate SLO in calls, a steady error ratio
with error bursts on some days and a daily volume that varies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from app.slo import forecast
from app.slo.forecast import Day, Inputs, Window

MONTH_DAYS = 30
HISTORY_MONTHS = 3
FORECAST_DAYS = (3, 7, 10, 14, 18, 21, 25, 28)
AVAILABILITY_ALLOWED = Decimal("0.001")  # 99.9 %: 43.2 minutes of a 30-day month
ERROR_RATE_ALLOWED = Decimal("0.005")  # an error rate below 0.5 %


@dataclass(frozen=True)
class Month:
    days: list[Day]
    allowed_ratio: Decimal
    fixed: bool  # availability: the budget is fixed by the month's minutes

    @property
    def missed(self) -> bool:
        bad = sum((d.bad for d in self.days), Decimal(0))
        total = sum((d.total for d in self.days), Decimal(0))
        budget = self.allowed_ratio * (Decimal(MONTH_DAYS * 1440) if self.fixed else total)
        return bad > budget


def _availability_months(rng: np.random.Generator, months: int) -> list[Month]:
    rate = rng.uniform(0.01, 0.25)  # outages a day
    median_min = rng.uniform(2, 15)
    found = []
    for _ in range(months):
        month_rate = rate * rng.lognormal(0, 0.6)
        days = []
        for _ in range(MONTH_DAYS):
            outages = rng.poisson(month_rate)
            down = min(1440.0, float(rng.lognormal(np.log(median_min), 1.0, size=outages).sum()))
            days.append(Day(Decimal(round(down, 2)), Decimal(1440)))
        found.append(Month(days, AVAILABILITY_ALLOWED, True))
    return found


def _call_months(rng: np.random.Generator, months: int) -> list[Month]:
    volume = rng.uniform(2_000, 50_000)  # calls a day
    ratio = rng.uniform(0.0005, 0.003)  # the usual error ratio
    burst_days = rng.uniform(0.01, 0.15)  # share of days with an error burst
    found = []
    for _ in range(months):
        month_ratio = ratio * rng.lognormal(0, 0.4)
        days = []
        for _ in range(MONTH_DAYS):
            calls = max(1, int(volume * rng.lognormal(0, 0.2)))
            day_ratio = month_ratio + (rng.beta(1, 12) if rng.random() < burst_days else 0.0)
            days.append(Day(Decimal(int(rng.binomial(calls, min(1.0, day_ratio)))), Decimal(calls)))
        found.append(Month(days, ERROR_RATE_ALLOWED, False))
    return found


def seeded_services(seed: int, services: int, months: int, kind: str) -> list[list[Month]]:
    """`services` services of `months` consecutive months each, of one kind ('availability' | 'calls')."""
    rng = np.random.default_rng(seed)
    make = _availability_months if kind == "availability" else _call_months
    return [make(rng, months) for _ in range(services)]


def inputs_at(month: Month, day: int, history: Sequence[Day]) -> Inputs:
    """What a forecast knows at midnight after `day` days of the month."""
    so_far = month.days[:day]
    recent = [*history, *so_far][-forecast.RECENT_DAYS :]
    return Inputs(
        days=so_far,
        elapsed_s=Decimal(day * forecast.DAY_S),
        period_s=Decimal(MONTH_DAYS * forecast.DAY_S),
        allowed_ratio=month.allowed_ratio,
        period_events=Decimal(MONTH_DAYS * 1440) if month.fixed else None,
        recent=Window(
            sum((d.bad for d in recent), Decimal(0)),
            sum((d.total for d in recent), Decimal(0)),
            Decimal(len(recent) * forecast.DAY_S),
        ),
        history=history,
    )


@dataclass(frozen=True)
class Scored:
    day: int
    bootstrap: float
    naive: float
    climatology: float  # the share of the HISTORY_MONTHS months before that missed
    missed: bool


def backtest(histories: list[list[Month]]) -> list[Scored]:
    """Every month after the first HISTORY_MONTHS of every service, forecast at FORECAST_DAYS."""
    scored = []
    for months in histories:
        for m in range(HISTORY_MONTHS, len(months)):
            earlier = months[m - HISTORY_MONTHS : m]
            history = [d for e in earlier for d in e.days]
            climatology = sum(e.missed for e in earlier) / HISTORY_MONTHS
            month = months[m]
            for day in FORECAST_DAYS:
                inputs = inputs_at(month, day, history)
                probability = forecast.forecast(inputs).miss_probability
                assert probability is not None
                naive = forecast.naive_probability(inputs)
                scored.append(Scored(day, probability, naive, climatology, month.missed))
    return scored


def summary(scored: Sequence[Scored]) -> dict[str, object]:
    """Brier scores overall and by forecast day, and the bootstrap's calibration table."""
    by_day = {}
    for day in FORECAST_DAYS:
        at = [s for s in scored if s.day == day]
        by_day[str(day)] = {
            "bootstrap": round(forecast.brier([(s.bootstrap, s.missed) for s in at]), 4),
            "naive": round(forecast.brier([(s.naive, s.missed) for s in at]), 4),
            "climatology": round(forecast.brier([(s.climatology, s.missed) for s in at]), 4),
        }
    months = len(scored) // len(FORECAST_DAYS)
    return {
        "forecasts": len(scored),
        "months": months,
        "missedShare": round(sum(s.missed for s in scored) / len(scored), 3),
        "brierBootstrap": round(forecast.brier([(s.bootstrap, s.missed) for s in scored]), 4),
        "brierNaive": round(forecast.brier([(s.naive, s.missed) for s in scored]), 4),
        "brierClimatology": round(forecast.brier([(s.climatology, s.missed) for s in scored]), 4),
        "brierByDay": by_day,
        "calibration": forecast.calibration([(s.bootstrap, s.missed) for s in scored]),
    }
