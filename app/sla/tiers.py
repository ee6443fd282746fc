"""SLA tiers of the SLA document (seeds/002): targets per tier."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Tier:
    name: str
    label: str
    availability: Decimal  # percent
    p50_ms: int
    p95_ms: int
    p99_ms: int
    error_rate: Decimal  # percent, all errors
    error_rate_5xx: Decimal  # percent
    credit_percent: int  # service credit when availability is below target
    daily_requests: int | None  # the API request quota a day ("API 요청: 50,000/일"); None: unlimited


TIERS = {
    t.name: t
    for t in (
        Tier(
            "enterprise_plus",
            "Enterprise Plus",
            Decimal("99.99"),
            50,
            100,
            200,
            Decimal("0.01"),
            Decimal("0.005"),
            5,
            None,
        ),
        Tier("enterprise", "Enterprise", Decimal("99.95"), 100, 200, 500, Decimal("0.1"), Decimal("0.05"), 10, 50_000),
        Tier(
            "professional", "Professional", Decimal("99.9"), 200, 500, 1000, Decimal("0.5"), Decimal("0.1"), 10, 10_000
        ),
        Tier("developer", "Developer", Decimal("99.5"), 500, 1000, 2000, Decimal("1"), Decimal("0.5"), 5, 1_000),
    )
}
