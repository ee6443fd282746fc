"""Error budgets, burn rates and service credits (docs/sla-math.md, seeds/002). Pure functions on exact
decimals: the worker and the monthly report both compute with these."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.sla.tiers import TIERS, Tier

HUNDRED = Decimal(100)
CREDIT_CAP_PERCENT = 50
LATENCY_CREDIT_PERCENT = 5  # P95 above 200 % of the tier's target
LONG_VIOLATION_CREDIT_PERCENT = 5
LONG_VIOLATION_HOURS = 4

# Multi-window burn-rate alerts: (long window, short window, burn-rate threshold), both must burn.
FAST_BURN = ("1h", "5m", Decimal("14.4"))
SLOW_BURN = ("6h", "30m", Decimal("6"))


def error_budget_minutes(target_percent: Decimal, period_minutes: Decimal | int) -> Decimal:
    """(1 - target) x period: 43.2 min for 99.9 % over a 30-day month."""
    return (1 - Decimal(target_percent) / HUNDRED) * Decimal(period_minutes)


@dataclass(frozen=True)
class Budget:
    total_minutes: Decimal
    consumed_minutes: Decimal

    @property
    def remaining_minutes(self) -> Decimal:
        return self.total_minutes - self.consumed_minutes

    @property
    def consumed_ratio(self) -> Decimal | None:
        return None if self.total_minutes == 0 else self.consumed_minutes / self.total_minutes


def budget(target_percent: Decimal, period_minutes: Decimal | int, downtime_minutes: Decimal | int) -> Budget:
    return Budget(error_budget_minutes(target_percent, period_minutes), Decimal(downtime_minutes))


def burn_rate(bad: int, total: int, target_percent: Decimal) -> Decimal | None:
    """Observed error ratio / allowed error ratio; None without events."""
    if total <= 0:
        return None
    allowed = 1 - Decimal(target_percent) / HUNDRED
    return (Decimal(bad) / Decimal(total)) / allowed


def burning(long_rate: Decimal | None, short_rate: Decimal | None, threshold: Decimal) -> bool:
    """A multi-window alert fires only when both windows burn at least at the threshold."""
    return long_rate is not None and short_rate is not None and long_rate >= threshold and short_rate >= threshold


@dataclass(frozen=True)
class Credit:
    availability_percent: int
    latency_percent: int
    long_violation_percent: int

    @property
    def total_percent(self) -> int:
        return min(CREDIT_CAP_PERCENT, self.availability_percent + self.latency_percent + self.long_violation_percent)


def service_credit(
    tier: str | Tier,
    availability_percent: Decimal | None,
    p95_ms: int | None,
    longest_violation_hours: Decimal | float | int,
) -> Credit:
    """The month's credit: the tier's credit below its availability target, +5 % when P95 is over
    200 % of the tier's P95 target, +5 % for a violation lasting 4 h or more; capped at 50 %."""
    tier = TIERS[tier] if isinstance(tier, str) else tier
    below = availability_percent is not None and Decimal(availability_percent) < tier.availability
    slow = p95_ms is not None and p95_ms > 2 * tier.p95_ms
    long_violation = Decimal(str(longest_violation_hours)) >= LONG_VIOLATION_HOURS
    return Credit(
        tier.credit_percent if below else 0,
        LATENCY_CREDIT_PERCENT if slow else 0,
        LONG_VIOLATION_CREDIT_PERCENT if long_violation else 0,
    )
