"""Violation rules (seeds/002) as pure functions over 5-minute measurements.

The SLOs are measured in 5-minute buckets ("5분 단위 측정", SLO-003 and SLO-005); a bucket without
slots or calls (no data, or a maintenance window) is not a measurement and neither breaks nor extends
a run. A violation is a run of consecutive measurements beyond the WARNING threshold that lasted the
WARNING duration, or beyond the CRITICAL threshold for the CRITICAL duration:
- availability (SLO-002's alert thresholds): WARNING below 98 % for 1 h, CRITICAL below 97 % for 30 min;
- latency P50/P95/P99 (SLO-003: "3 consecutive measurements over target"): WARNING over the tier's
  target, CRITICAL over 200 % of it (the credit threshold), each for 3 measurements;
- 4xx / 5xx error rates (SLO-005): WARNING over 8 % / 0.2 %, CRITICAL over 10 % / 0.5 %, one measurement.
It starts where its run started, is open while the newest measurement still breaches the WARNING
threshold, and ends with the last breaching measurement. Its severity is the highest reached.
Besides, multi-window burn-rate alerts on the availability budget (app.slo.budget FAST_BURN /
SLOW_BURN): burn_rate_fast (CRITICAL) and burn_rate_slow (WARNING), open while both windows burn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from app.slo.objectives import Objective

BUCKET = timedelta(minutes=5)
WARNING, CRITICAL = "WARNING", "CRITICAL"
SEVERITY_RANK = {None: 0, WARNING: 1, CRITICAL: 2}


@dataclass(frozen=True)
class Rule:
    slo: str
    measure: str  # what one measurement is, for people
    direction: str  # 'below' (bad when lower) | 'above'
    warning: Decimal
    warning_buckets: int
    critical: Decimal
    critical_buckets: int

    def breaches(self, value: Decimal, threshold: Decimal) -> bool:
        return value < threshold if self.direction == "below" else value > threshold

    def worse(self, a: Decimal | None, b: Decimal | None) -> Decimal | None:
        values = [v for v in (a, b) if v is not None]
        if not values:
            return None
        return min(values) if self.direction == "below" else max(values)

    def details(self) -> dict[str, str | int]:
        return {
            "measure": self.measure,
            "direction": self.direction,
            "warning": str(self.warning),
            "warningMinutes": int(self.warning_buckets * BUCKET.total_seconds() // 60),
            "critical": str(self.critical),
            "criticalMinutes": int(self.critical_buckets * BUCKET.total_seconds() // 60),
        }


def rules(objectives: list[Objective]) -> list[Rule]:
    """The violation rules of a service's SLOs (the overall error rate has its budget and burn rates
    but no alert thresholds in the SLA document)."""
    found = [
        Rule("availability", "availability % per 5 minutes", "below", Decimal(98), 12, Decimal(97), 6),
        Rule("error_rate_4xx", "4xx % per 5 minutes", "above", Decimal(8), 1, Decimal(10), 1),
        Rule("error_rate_5xx", "5xx % per 5 minutes", "above", Decimal("0.2"), 1, Decimal("0.5"), 1),
    ]
    for objective in objectives:
        if objective.unit == "ms":
            found.append(
                Rule(
                    objective.slo,
                    f"{objective.name} ms per 5 minutes",
                    "above",
                    objective.target,
                    3,
                    2 * objective.target,
                    3,
                )
            )
    return found


@dataclass(frozen=True)
class Verdict:
    breaching: bool  # the newest measurement breaches the WARNING threshold
    severity: str | None  # reached by the trailing run (None: not (yet) a violation)
    started_at: datetime | None  # start of the trailing breaching run
    threshold: Decimal | None  # the threshold of `severity`
    worst: Decimal | None  # worst measurement of the trailing run
    last_breach_end: datetime | None  # end of the newest breaching measurement


def judge(rule: Rule, measurements: list[tuple[datetime, Decimal | None]]) -> Verdict | None:
    """The rule over 5-minute measurements (oldest first); None without any measurement."""
    judged = [(start, value) for start, value in measurements if value is not None]
    if not judged:
        return None
    warning_run: list[tuple[datetime, Decimal]] = []
    for start, value in reversed(judged):
        if not rule.breaches(value, rule.warning):
            break
        warning_run.append((start, value))
    critical_run = 0
    for _, value in warning_run:
        if not rule.breaches(value, rule.critical):
            break
        critical_run += 1
    last_breach = next((start for start, value in reversed(judged) if rule.breaches(value, rule.warning)), None)
    severity = (
        CRITICAL
        if critical_run >= rule.critical_buckets
        else (WARNING if len(warning_run) >= rule.warning_buckets else None)
    )
    return Verdict(
        breaching=bool(warning_run),
        severity=severity,
        started_at=warning_run[-1][0] if warning_run else None,
        threshold=None if severity is None else {CRITICAL: rule.critical, WARNING: rule.warning}[severity],
        worst=rule.worse(min(v for _, v in warning_run), max(v for _, v in warning_run)) if warning_run else None,
        last_breach_end=last_breach + BUCKET if last_breach else None,
    )
