"""Forecasts of an SLO's error budget for the running period (docs/sla-math.md "Forecasts"): when the
budget runs out at the burn rate of the period so far and at the burn of the last 7 days, and the
probability that the period ends past its budget (misses its target).

Pure functions on a generic input, whatever the SLO: the period's days so far as (bad, total) event
counts, the bad events per event it allows, its length, the last 7 days' counts, and the service's
earlier days of the same SLO. Availability counts minutes (bad: down minutes, total: judged minutes)
against a budget fixed by the period's length; a call SLO counts calls against a budget that grows
with the calls (allowed ratio x the calls the period is projected to have at its rate so far).

The probability is a two-stage empirical bootstrap of whole days (docs/sla-math.md says why): the rest
of the period is simulated `SIMULATIONS` times; each simulation picks one comparable period at random
(one of the `BLOCK_DAYS`-day blocks of the `POOL_DAYS` days before the period, or the period so far),
and each remaining day draws the bad ratio of a day picked at random in it (days with events only).
The seed is fixed, so that one input always gives one answer. Figures are exact decimals; the probability is a
float."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

DAY_S = 86_400
RECENT_DAYS = 7
SIMULATIONS = 4_000
POOL_DAYS = 90
BLOCK_DAYS = 30  # a comparable period of the history: the month-long blocks the bootstrap picks from
SEED = 21  # issue 21: any fixed seed makes the answer reproducible
ZERO = Decimal(0)


@dataclass(frozen=True)
class Day:
    """One day's events of an SLO: bad ones (down minutes, bad calls) among all (judged minutes, calls)."""

    bad: Decimal
    total: Decimal


@dataclass(frozen=True)
class Window:
    """Events over a span of time (the last 7 days)."""

    bad: Decimal
    total: Decimal
    seconds: Decimal


@dataclass(frozen=True)
class Inputs:
    days: Sequence[Day]  # the period's days so far, the last one up to now
    elapsed_s: Decimal  # of the period so far
    period_s: Decimal  # the period's length
    allowed_ratio: Decimal  # bad events allowed per event (0.001 for 99.9 %)
    period_events: Decimal | None  # events of the whole period when known ahead (availability: its minutes)
    recent: Window  # the last 7 days (into the previous period at its start)
    history: Sequence[Day] = ()  # the service's days of this SLO before the period, oldest first


@dataclass(frozen=True)
class Exhaustion:
    """When the budget runs out at one burn rate: `in_s` seconds from now, 0 when it is spent already,
    None when it lasts to the period's end. `burn_rate`: bad events per second over the budget's per
    second (1 spends exactly the budget by the period's end); None without a budget to burn."""

    burn_rate: Decimal | None
    in_s: Decimal | None

    @property
    def exhausted(self) -> bool:
        return self.in_s == ZERO


@dataclass(frozen=True)
class Forecast:
    budget: Decimal  # bad events the whole period allows
    consumed: Decimal
    current: Exhaustion  # at the period's burn rate so far
    recent: Exhaustion  # at the last 7 days' burn rate
    miss_probability: float | None  # None: no day with events to learn from
    simulations: int  # 0 when the outcome is certain without simulating
    pool_days: int  # the days the simulation drew from

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.consumed


def _projected_events(inputs: Inputs) -> Decimal:
    """The period's events: known ahead, or the events so far at their rate over the whole period."""
    if inputs.period_events is not None:
        return inputs.period_events
    so_far = sum((d.total for d in inputs.days), ZERO)
    if inputs.elapsed_s <= 0:
        return ZERO
    return so_far * inputs.period_s / inputs.elapsed_s


def exhaustion(
    bad: Decimal, seconds: Decimal, budget: Decimal, consumed: Decimal, left_s: Decimal, period_s: Decimal
) -> Exhaustion:
    """When `budget - consumed` runs out, within `left_s` seconds, at the rate of `bad` events in
    `seconds` (one division each, so that a steady burn gives exact figures)."""
    burn = None if seconds <= 0 or budget <= 0 else bad * period_s / (seconds * budget)
    if consumed > budget or (budget <= 0 and consumed > 0):
        return Exhaustion(burn, ZERO)
    if seconds <= 0 or bad <= 0:
        return Exhaustion(burn, None)
    in_s = (budget - consumed) * seconds / bad
    return Exhaustion(burn, in_s if in_s < left_s else None)


def _blocks(inputs: Inputs) -> list[np.ndarray]:
    """Bad ratios of the days with events, in blocks: the POOL_DAYS days before the period cut into
    BLOCK_DAYS-day blocks from the period's start backwards (the comparable periods), and the period's
    own days so far as one more."""
    history = list(inputs.history)[-POOL_DAYS:]
    groups = [history[max(0, end - BLOCK_DAYS) : end] for end in range(len(history), 0, -BLOCK_DAYS)]
    groups.append(list(inputs.days))
    blocks = [np.array([float(d.bad / d.total) for d in group if d.total > 0]) for group in groups]
    return [b for b in blocks if len(b)]


def miss_probability(inputs: Inputs, budget: Decimal, consumed: Decimal) -> tuple[float | None, int, int]:
    """P(the period ends past its budget), the simulations run and the days drawn from (see the
    module docstring)."""
    left_s = inputs.period_s - inputs.elapsed_s
    fixed = inputs.period_events is not None
    if fixed and consumed > budget:
        return 1.0, 0, 0  # a fixed budget spent cannot come back
    blocks = _blocks(inputs)
    pool_days = sum(len(b) for b in blocks)
    if left_s <= 0:
        return (1.0 if consumed > budget else 0.0), 0, pool_days
    if not blocks:
        return None, 0, 0
    total_so_far = sum((d.total for d in inputs.days), ZERO)
    if fixed:
        assert inputs.period_events is not None
        per_s = float(inputs.period_events / inputs.period_s)
    else:
        per_s = float(total_so_far / inputs.elapsed_s) if inputs.elapsed_s > 0 else 0.0
    whole, rest = divmod(float(left_s), DAY_S)
    spans = [float(DAY_S)] * int(whole) + ([rest] if rest > 0 else [])
    events = np.array(spans) * per_s  # events of each remaining day (the last one partial)
    rng = np.random.default_rng(SEED)
    block_of = rng.integers(0, len(blocks), size=SIMULATIONS)  # each simulation: one comparable period
    picks = rng.random((SIMULATIONS, len(spans)))  # ... and days drawn from it
    future_bad = np.empty(SIMULATIONS)
    for k, block in enumerate(blocks):
        mine = block_of == k
        future_bad[mine] = block[(picks[mine] * len(block)).astype(np.int64)] @ events
    allowed = float(budget) if fixed else float(inputs.allowed_ratio) * (float(total_so_far) + float(events.sum()))
    missed = float(consumed) + future_bad > allowed * (1 + 1e-12)
    return float(missed.mean()), SIMULATIONS, pool_days


def forecast(inputs: Inputs) -> Forecast:
    """The budget's exhaustion at both burn rates and the probability of missing the target."""
    budget = inputs.allowed_ratio * _projected_events(inputs)
    consumed = sum((d.bad for d in inputs.days), ZERO)
    left_s = inputs.period_s - inputs.elapsed_s
    probability, simulations, pool_days = miss_probability(inputs, budget, consumed)
    return Forecast(
        budget=budget,
        consumed=consumed,
        current=exhaustion(consumed, inputs.elapsed_s, budget, consumed, left_s, inputs.period_s),
        recent=exhaustion(inputs.recent.bad, inputs.recent.seconds, budget, consumed, left_s, inputs.period_s),
        miss_probability=probability,
        simulations=simulations,
        pool_days=pool_days,
    )


def naive_probability(inputs: Inputs) -> float:
    """The baseline the backtest compares with: 1 when the period's burn so far, kept up to the end,
    spends more than the budget, else 0 (a straight-line extrapolation, no uncertainty)."""
    budget = inputs.allowed_ratio * _projected_events(inputs)
    consumed = sum((d.bad for d in inputs.days), ZERO)
    if inputs.elapsed_s <= 0:
        return 0.0
    return 1.0 if consumed * inputs.period_s / inputs.elapsed_s > budget else 0.0


def brier(pairs: Sequence[tuple[float, bool]]) -> float:
    """Mean squared error of probability forecasts against outcomes (0 perfect, 0.25 a coin)."""
    return sum((p - (1.0 if hit else 0.0)) ** 2 for p, hit in pairs) / len(pairs) if pairs else math.nan


def calibration(
    pairs: Sequence[tuple[float, bool]], bins: Sequence[float] = (0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0001)
) -> list[dict[str, float | int | str]]:
    """Per probability bin: the forecasts in it, their mean, and how often the period did miss."""
    table: list[dict[str, float | int | str]] = []
    for lo, hi in zip(bins, bins[1:]):
        inside = [(p, hit) for p, hit in pairs if lo <= p < hi]
        if not inside:
            continue
        table.append(
            {
                "bin": f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}",
                "forecasts": len(inside),
                "meanForecast": round(sum(p for p, _ in inside) / len(inside), 3),
                "observedMissRate": round(sum(1 for _, hit in inside if hit) / len(inside), 3),
            }
        )
    return table
