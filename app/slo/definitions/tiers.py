"""The tier SLOs (app/slo/objectives.py, app/slo/alerts.py, app/slo/budget.py) as definitions: built
in, read-only, evaluated for the active services of their tier (docs/sla-math.md#slo-definitions).

They are derived from the tier engine's own objectives and rules, so the two cannot drift apart:
- availability: good slots (majority verdict ok) >= target; the burn-rate alerts FAST/SLOW on its
  budget; its rule as two threshold alerts (WARNING below 98 % for 1 h, CRITICAL below 97 % for 30 min);
- latency Pq < X: good calls faster than X ms, target q (op gte, percentile q); the rule over the
  5-minute nearest-rank percentile (WARNING over X, CRITICAL over 2 X, 3 measurements each);
- error rates < t: good calls are those outside the errors, target 100 - t with op gt (strict), the
  rules over the 5-minute bad percentage (4xx, 5xx).
Their violations are the tier engine's (slo_violations): the definitions engine computes their
figures (GET /api/slo-definitions/{name}/status) but the worker of definitions does not evaluate them."""

from __future__ import annotations

from decimal import Decimal

from app.sla.tiers import TIERS, Tier
from app.slo import alerts, budget
from app.slo.definitions.model import (
    Alert,
    BurnRateAlert,
    Compare,
    Definition,
    Filter,
    Measure,
    Sli,
    ThresholdAlert,
    Window,
)
from app.slo.objectives import Objective, objectives

PREFIX = "tier-"
MONTH = Window("calendar", unit="month")
# The tier engine's SLO keys (slo_violations.slo) of each tier definition's suffix.
SUFFIXES = {
    "availability": "availability",
    "latency_p50": "latency-p50",
    "latency_p95": "latency-p95",
    "latency_p99": "latency-p99",
    "error_rate": "error-rate",
    "error_rate_5xx": "error-rate-5xx",
    "error_rate_4xx": "error-rate-4xx",
}
BURN_NAMES = {"burn_rate_fast": "burn-rate-fast", "burn_rate_slow": "burn-rate-slow"}
# An error is a call answered outside 2xx/3xx (app/slo/objectives.py).
NOT_ERROR = Filter(statuses=("2xx", "3xx"))
BAD = {"error_rate_5xx": Filter(statuses=("5xx",)), "error_rate_4xx": Filter(statuses=("4xx",))}


def plain(value: Decimal) -> Decimal:
    """Without trailing zeros nor an exponent: 95.00 -> 95, 99.900 -> 99.9."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _minutes(text: str) -> int:
    """'5m' -> 5, '6h' -> 360 (app.slo.budget's window names)."""
    return int(text[:-1]) * {"m": 1, "h": 60}[text[-1]]


def _burn_alerts() -> tuple[BurnRateAlert, ...]:
    return (
        BurnRateAlert("burn-rate-fast", "CRITICAL", _minutes(budget.FAST_BURN[0]), _minutes(budget.FAST_BURN[1]),
                      budget.FAST_BURN[2]),
        BurnRateAlert("burn-rate-slow", "WARNING", _minutes(budget.SLOW_BURN[0]), _minutes(budget.SLOW_BURN[1]),
                      budget.SLOW_BURN[2]),
    )  # fmt: skip


def _threshold_alerts(rule: alerts.Rule, measure: Measure) -> tuple[ThresholdAlert, ...]:
    compare: Compare = "lt" if rule.direction == "below" else "gt"
    minutes = int(alerts.BUCKET.total_seconds() // 60)
    return (
        ThresholdAlert("warning", "WARNING", measure, compare, rule.warning, rule.warning_buckets * minutes),
        ThresholdAlert("critical", "CRITICAL", measure, compare, rule.critical, rule.critical_buckets * minutes),
    )


def _definition(tier: Tier, objective: Objective, rule: alerts.Rule | None) -> Definition:
    found: tuple[Alert, ...] = ()
    measure: Measure
    if objective.slo == "availability":
        sli = Sli("checks", good=Filter(ok=True))
        target, measure = objective.target, "good_percent"
        found = _burn_alerts()
    elif objective.unit == "ms":
        quantile = 1 - objective.allowed_ratio
        sli = Sli("calls", good=Filter(latency_below_ms=int(objective.target)), percentile=quantile * 100)
        target, measure = quantile * 100, "percentile_ms"
    else:
        bad = BAD.get(objective.slo)
        sli = Sli("calls", good=NOT_ERROR) if bad is None else Sli("calls", bad=bad)
        target, measure = objective.target_percent, "bad_percent"
    if rule is not None:
        found += _threshold_alerts(rule, measure)
    unit = "%" if objective.unit == "percent" else " ms"
    return Definition(
        name=f"{PREFIX}{tier.name.replace('_', '-')}-{SUFFIXES[objective.slo]}",
        display_name=f"{tier.label}: {objective.name}",
        description=f"The {tier.label} tier's {objective.name} SLO ({plain(objective.target)}{unit}), "
        "built in (docs/sla-math.md#slo-definitions).",
        services=(),
        sli=sli,
        window=MONTH,
        target=plain(target),
        op="gte" if objective.slo == "availability" or objective.unit == "ms" else "gt",
        alerts=found,
        labels={"tier": tier.name, "slo": objective.slo},
        tier=tier.name,
    )


def definitions_of(tier: Tier) -> list[Definition]:
    found = objectives(tier)
    rules = {rule.slo: rule for rule in alerts.rules(found)}
    return [_definition(tier, objective, rules.get(objective.slo)).check() for objective in found]


def tier_definitions() -> list[Definition]:
    """Every tier's SLOs, in tier order then the tier engine's SLO order."""
    return [d for tier in TIERS.values() for d in definitions_of(tier)]


def tier_slo_keys(definition: Definition) -> list[str]:
    """The tier engine's slo_violations.slo keys of a tier definition (its violations live there)."""
    slo = definition.labels.get("slo", "")
    return [slo, *BURN_NAMES] if slo == "availability" else [slo]


def burn_alert_name(slo_key: str) -> str:
    """A tier violation's alert name within its definition."""
    return BURN_NAMES.get(slo_key, "threshold")
