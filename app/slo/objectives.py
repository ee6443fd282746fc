"""The SLOs of a service (seeds/002) and what counts as a bad event for each.

Per tier: availability (SLO-001), API latency P50/P95/P99 (SLO-003, on the real API calls of
`api_calls`), overall error rate and 5xx error rate; for every tier the 4xx error rate below 5 %
(SLO-005). An error is a call answered outside 2xx/3xx (SLO-001 counts 2xx and 3xx as normal).
Each SLO allows a ratio of bad events, which is its error budget:
- availability: failed slots, allowed 1 - target (0.1 % for 99.9 %);
- latency Pq < X: calls with latency >= X, allowed 1 - q (so that the nearest-rank Pq stays below X);
- error rates: error calls, allowed the target itself."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.sla.tiers import Tier

HUNDRED = Decimal(100)
CLIENT_ERROR_RATE_PERCENT = Decimal(5)  # SLO-005: 4xx below 5 %, every tier
QUANTILES = {"latency_p50": Decimal("0.50"), "latency_p95": Decimal("0.95"), "latency_p99": Decimal("0.99")}


@dataclass(frozen=True)
class Objective:
    slo: str
    name: str
    target: Decimal  # percent (availability, error rates) or ms (latency)
    unit: str  # 'percent' | 'ms'
    allowed_ratio: Decimal  # bad events allowed per event

    @property
    def events(self) -> str:
        return "slots" if self.slo == "availability" else "calls"

    @property
    def target_percent(self) -> Decimal:
        """The good-event ratio the budget math works with (app.slo.budget.burn_rate)."""
        return (1 - self.allowed_ratio) * HUNDRED


def objectives(tier: Tier) -> list[Objective]:
    latency = [
        Objective(slo, f"Latency P{int(q * 100)}", Decimal(ms), "ms", 1 - q)
        for (slo, q), ms in zip(QUANTILES.items(), (tier.p50_ms, tier.p95_ms, tier.p99_ms))
    ]
    return [
        Objective("availability", "Availability", tier.availability, "percent", 1 - tier.availability / HUNDRED),
        *latency,
        Objective("error_rate", "Error rate", tier.error_rate, "percent", tier.error_rate / HUNDRED),
        Objective("error_rate_5xx", "5xx error rate", tier.error_rate_5xx, "percent", tier.error_rate_5xx / HUNDRED),
        Objective(
            "error_rate_4xx",
            "4xx error rate",
            CLIENT_ERROR_RATE_PERCENT,
            "percent",
            CLIENT_ERROR_RATE_PERCENT / HUNDRED,
        ),
    ]
