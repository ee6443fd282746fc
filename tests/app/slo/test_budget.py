"""Budget, burn-rate and credit math against hand-computed cases from the SLA document's numbers
(4.32 / 21.6 / 43.2 min and 3.6 h per 30-day month)."""

from decimal import Decimal

import pytest

from app.slo.budget import FAST_BURN, SLOW_BURN, budget, burn_rate, burning, error_budget_minutes, service_credit
from app.sla.tiers import TIERS

MONTH_30_DAYS = 30 * 24 * 60


@pytest.mark.parametrize(
    "tier, minutes",
    [
        ("enterprise_plus", Decimal("4.32")),
        ("enterprise", Decimal("21.6")),
        ("professional", Decimal("43.2")),
        ("developer", Decimal("216")),  # 3.6 h
    ],
)
def test_monthly_error_budget_matches_the_sla_document(tier, minutes):
    assert error_budget_minutes(TIERS[tier].availability, MONTH_30_DAYS) == minutes


def test_a_31_day_month_has_a_bigger_budget():
    assert error_budget_minutes(Decimal("99.9"), 31 * 24 * 60) == Decimal("44.64")


def test_budget_remaining_and_consumed():
    b = budget(Decimal("99.9"), MONTH_30_DAYS, 30)
    assert (b.total_minutes, b.remaining_minutes, b.consumed_ratio) == (
        Decimal("43.2"),
        Decimal("13.2"),
        Decimal(30) / Decimal("43.2"),
    )
    assert budget(Decimal("99.99"), MONTH_30_DAYS, 10).remaining_minutes == Decimal("-5.68")  # overspent


@pytest.mark.parametrize(
    "bad, total, target, rate",
    [
        (1, 1000, "99.9", Decimal(1)),  # exactly the allowed ratio
        (144, 10_000, "99.9", Decimal("14.4")),  # fast-burn threshold
        (6, 1000, "99.9", Decimal(6)),
        (0, 60, "99.5", Decimal(0)),
        (0, 0, "99.5", None),  # no events: no rate, never "0"
    ],
)
def test_burn_rate(bad, total, target, rate):
    assert burn_rate(bad, total, Decimal(target)) == rate


def test_multi_window_alerts_need_both_windows():
    threshold = FAST_BURN[2]
    assert burning(Decimal("14.4"), Decimal(20), threshold)
    assert not burning(Decimal("14.4"), Decimal(2), threshold)  # short window recovered: no page
    assert not burning(Decimal(3), Decimal(50), threshold)  # a blip: long window not burning
    assert not burning(None, Decimal(50), threshold)
    assert SLOW_BURN[2] == Decimal(6)


@pytest.mark.parametrize(
    "tier, availability, p95, hours, expected",
    [
        ("enterprise_plus", "99.99", 100, 0, 0),  # at target: no credit
        ("enterprise_plus", "99.98", 100, 0, 5),
        ("enterprise", "99.94", 200, 0, 10),
        ("professional", "99.89", 1001, 0, 15),  # P95 1001 ms > 2 x 500 ms
        ("professional", "99.89", 1000, 0, 10),  # exactly 200 %: not above it
        ("developer", "99.49", 2001, 4, 15),  # 5 + 5 + 5
        ("developer", "99.6", 100, Decimal("3.99"), 0),
        ("enterprise", None, None, 0, 0),  # no data: no credit claimed
    ],
)
def test_service_credit(tier, availability, p95, hours, expected):
    credit = service_credit(tier, None if availability is None else Decimal(availability), p95, hours)
    assert credit.total_percent == expected


def test_credit_is_capped_at_fifty_percent():
    from app.slo.budget import Credit

    assert Credit(40, 5, 10).total_percent == 50
