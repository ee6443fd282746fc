"""A customer's availability and credit for a period (docs/sla-math.md, Customers), composed from the
per-service report figures of its covered services (app/reports/figures.py): no figure is measured
again here. Exact decimals throughout; the amount is rounded half-up to the currency's ISO 4217 minor
unit once, at the end."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from app.contract import JsonObject
from app.customers.models import minor_unit
from app.formatting import truncated_percentage
from app.periods import merge_intervals
from app.sla.tiers import Tier
from app.slo.budget import (
    CREDIT_CAP_PERCENT,
    LATENCY_CREDIT_PERCENT,
    LONG_VIOLATION_CREDIT_PERCENT,
    LONG_VIOLATION_HOURS,
    Credit,
)

SECONDS_PER_HOUR = 3600


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def violation_seconds(violations: Iterable[JsonObject], start: datetime, cut: datetime) -> int:
    """Time in violation inside [start, cut): the union of the violations' spans (overlapping WARNING
    and CRITICAL spans count once), each clipped to the period; an open one runs to `cut`."""
    spans = [
        (max(parse_utc(v["startedAt"]), start), min(parse_utc(v["endedAt"]) if v["endedAt"] else cut, cut))
        for v in violations
    ]
    return int(sum((hi - lo).total_seconds() for lo, hi in merge_intervals([(lo, hi) for lo, hi in spans if hi > lo])))


@dataclass(frozen=True)
class ServicePart:
    """What the customer's figures take from one covered service's report."""

    successful_slots: int
    slots: int
    p95_ms: int | None
    violation_seconds: int


@dataclass(frozen=True)
class CustomerCredit:
    availability: Decimal | None  # percent, truncated to 2 decimals
    target: Decimal  # percent: the tier's, or the lowest effective override's
    credit: Credit
    amount: Decimal  # in the currency, at its minor unit
    slow_services: tuple[str, ...]
    long_violation_services: tuple[str, ...]


def customer_credit(
    tier: Tier, target: Decimal, fee: Decimal, currency: str, parts: Sequence[tuple[str, ServicePart]]
) -> CustomerCredit:
    """Slot-weighted availability over the covered services against the target; +5 % when any service's
    P95 is above 200 % of the tier's P95 target; +5 % when any service spent 4 h or more in violation;
    capped at 50 %. Amount = fee x percent / 100, half-up to the currency's minor unit."""
    availability = truncated_percentage(sum(p.successful_slots for _, p in parts), sum(p.slots for _, p in parts))
    slow = tuple(sid for sid, p in parts if p.p95_ms is not None and p.p95_ms > 2 * tier.p95_ms)
    long = tuple(sid for sid, p in parts if p.violation_seconds >= LONG_VIOLATION_HOURS * SECONDS_PER_HOUR)
    credit = Credit(
        tier.credit_percent if availability is not None and availability < target else 0,
        LATENCY_CREDIT_PERCENT if slow else 0,
        LONG_VIOLATION_CREDIT_PERCENT if long else 0,
    )
    return CustomerCredit(availability, target, credit, amount(fee, credit.total_percent, currency), slow, long)


def amount(fee: Decimal, percent: int, currency: str) -> Decimal:
    """fee x percent / 100, rounded half-up to the currency's minor unit (JPY 0, EUR 2, BHD 3)."""
    return (Decimal(fee) * percent / 100).quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


__all__ = ["CREDIT_CAP_PERCENT", "CustomerCredit", "ServicePart", "amount", "customer_credit", "violation_seconds"]
