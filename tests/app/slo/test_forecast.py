"""Forecasts (app/slo/forecast.py) on histories with known outcomes: the exhaustion day of a steady
burn, certainty at both ends, the 7-day burn, reproducibility, and the backtest beating the naive
baseline on seeded months (docs/sla-math.md "Forecasts")."""

from decimal import Decimal

import pytest

from app.slo import forecast, forecast_backtest
from app.slo.forecast import DAY_S, Day, Inputs, Window

MONTH_S = Decimal(30 * DAY_S)
MINUTES = Decimal(30 * 1440)
ALLOWED = Decimal("0.001")  # 99.9 %: 43.2 minutes of a 30-day month


def availability(down_per_day: list[Decimal | int], history: list[Day] | None = None, recent_days: int = 7) -> Inputs:
    days = [Day(Decimal(d), Decimal(1440)) for d in down_per_day]
    recent = [*(history or []), *days][-recent_days:]
    return Inputs(
        days=days,
        elapsed_s=Decimal(len(days) * DAY_S),
        period_s=MONTH_S,
        allowed_ratio=ALLOWED,
        period_events=MINUTES,
        recent=Window(
            sum((d.bad for d in recent), Decimal(0)), Decimal(1440 * len(recent)), Decimal(len(recent) * DAY_S)
        ),
        history=history or [],
    )


def test_a_steady_burn_exhausts_the_budget_on_the_right_day():
    # 2 down minutes a day against 43.2: spent after 21.6 days; after 10 days, 11.6 days are left.
    result = forecast.forecast(availability([2] * 10, history=[Day(Decimal(2), Decimal(1440))] * 60))
    assert result.budget == Decimal("43.2")
    assert result.consumed == 20 and result.remaining == Decimal("23.2")
    assert result.current.in_s == Decimal("11.6") * DAY_S
    assert result.current.burn_rate == Decimal(2) / Decimal("1.44")  # 2 a day over 1.44 a day
    assert result.recent.in_s == Decimal("11.6") * DAY_S  # the last 7 days burn alike
    assert result.miss_probability == 1.0  # every simulated day burns 2 minutes more
    assert result.simulations == forecast.SIMULATIONS and result.pool_days == 70


def test_a_steady_burn_within_the_budget_lasts_the_month():
    result = forecast.forecast(availability([1] * 10, history=[Day(Decimal(1), Decimal(1440))] * 60))
    assert result.current.in_s is None and not result.current.exhausted  # 30 minutes of 43.2
    assert result.miss_probability == 0.0


def test_a_service_without_errors_has_no_chance_to_miss():
    result = forecast.forecast(availability([0] * 12, history=[Day(Decimal(0), Decimal(1440))] * 90))
    assert result.miss_probability == 0.0
    assert result.current.in_s is None and result.recent.in_s is None
    assert result.current.burn_rate == 0


def test_a_budget_spent_already_misses_for_certain():
    result = forecast.forecast(availability([0, 50, 0]))
    assert result.miss_probability == 1.0 and result.simulations == 0
    assert result.current.exhausted and result.recent.exhausted
    assert result.remaining == Decimal("-6.8")


def test_the_last_7_days_burn_can_run_out_before_the_month_average():
    # 14 quiet days, then 7 days of 3 minutes: the month's average burn (1 a day) lasts, the week's does not.
    inputs = availability([0] * 14 + [3] * 7)
    result = forecast.forecast(inputs)
    assert result.consumed == 21
    assert result.current.in_s is None  # 22.2 left at 1 a day: 22 days, more than the 9 left
    assert result.recent.in_s == Decimal("7.4") * DAY_S  # 22.2 left at 3 a day
    assert result.recent.burn_rate == Decimal(3) / Decimal("1.44")


def test_a_burst_in_the_history_makes_a_miss_possible_not_certain():
    # A quiet month so far; one day in 30 of the history lost 30 minutes.
    history = ([Day(Decimal(0), Decimal(1440))] * 29 + [Day(Decimal(30), Decimal(1440))]) * 3
    result = forecast.forecast(availability([0] * 10 + [20], history=history))
    assert result.miss_probability is not None and 0.2 < result.miss_probability < 0.8


def test_the_same_input_gives_the_same_answer():
    history = [Day(Decimal(d % 7), Decimal(1440)) for d in range(60)]
    inputs = availability([1, 0, 5, 0, 0, 2], history=history)
    assert forecast.forecast(inputs) == forecast.forecast(inputs)


def test_without_events_there_is_nothing_to_learn_from():
    inputs = Inputs([], Decimal(0), MONTH_S, ALLOWED, None, Window(Decimal(0), Decimal(0), Decimal(0)))
    result = forecast.forecast(inputs)
    assert result.miss_probability is None and result.budget == 0
    assert result.current.in_s is None and result.current.burn_rate is None


def calls(bad_total: list[tuple[int, int]], history: list[Day] | None = None) -> Inputs:
    days = [Day(Decimal(b), Decimal(t)) for b, t in bad_total]
    return Inputs(
        days=days,
        elapsed_s=Decimal(len(days) * DAY_S),
        period_s=MONTH_S,
        allowed_ratio=Decimal("0.005"),
        period_events=None,
        recent=Window(sum((d.bad for d in days[-7:]), Decimal(0)), Decimal(0), Decimal(min(7, len(days)) * DAY_S)),
        history=history or [],
    )


def test_a_call_slo_budget_grows_with_the_calls():
    # 1 % errors against 0.5 % allowed, 10,000 calls a day: the budget is 0.5 % of the month's 300,000.
    result = forecast.forecast(calls([(100, 10_000)] * 10))
    assert result.budget == 1500 and result.consumed == 1000
    assert result.current.burn_rate == 2  # the error ratio over the allowed one
    assert result.current.in_s == 5 * DAY_S  # 500 calls left at 100 a day
    assert result.miss_probability == 1.0


def test_a_call_slo_over_its_budget_so_far_can_still_recover():
    # A bad first day (2 %), then 0.1 % days as in the two months before.
    result = forecast.forecast(
        calls([(200, 10_000)] + [(10, 10_000)] * 3, history=[Day(Decimal(10), Decimal(10_000))] * 60)
    )
    # 0.575 % so far (the SLO fails today), burning 1.15 x: 1,270 of 1,500 left at 57.5 a day
    assert result.current.burn_rate == Decimal("1.15")
    assert result.current.in_s == Decimal(1270) * 4 * DAY_S / 230
    # The two 30-day blocks of the history are clean: simulations drawing from them dilute the bad day
    # and hold. Only those drawing from this month (one comparable period of three) can miss.
    assert result.miss_probability is not None and 0 < result.miss_probability < 1 / 3


def test_the_bootstrap_beats_the_naive_baseline_on_seeded_months():
    for kind in ("availability", "calls"):
        summary = forecast_backtest.summary(
            forecast_backtest.backtest(forecast_backtest.seeded_services(3, 12, 6, kind))
        )
        assert summary["brierBootstrap"] < summary["brierNaive"], (kind, summary)


@pytest.mark.parametrize(
    ("pairs", "score"), [([(1.0, True), (0.0, False)], 0.0), ([(0.5, True), (0.5, False)], 0.25), ([(1.0, False)], 1.0)]
)
def test_brier_score(pairs, score):
    assert forecast.brier(pairs) == score


def test_each_comparable_period_is_a_scenario():
    # Of the two months before, one lost 3 minutes every day (90 in all), the other nothing; this month
    # is clean after 10 days. Its remaining 20 days miss (60 > 43.2) exactly when they run like the bad
    # month: one simulation in three. Days drawn from all 70 at once would almost never miss.
    history = [Day(Decimal(3), Decimal(1440))] * 30 + [Day(Decimal(0), Decimal(1440))] * 30
    result = forecast.forecast(availability([0] * 10, history=history))
    assert result.miss_probability == pytest.approx(1 / 3, abs=0.02)
