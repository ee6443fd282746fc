"""SLO figures of a service for a calendar month (to date while it runs): per SLO the target, the
current value, the error budget (consumed, remaining) and burn rates over 5 m / 30 m / 1 h / 6 h;
and the violations list. Maintenance windows are left out of every figure.

Error budgets: availability in minutes, (1 - target) x the month's minutes (43.2 min for 99.9 % over
30 days), consumed by the down time of failed slots (docs/sla-math.md); latency and error-rate SLOs in
calls, the number of bad calls the month's calls so far allow while the SLO still holds (latency
Pq < X holds while at most n - ceil(q n) calls take X ms or more; an error rate < t holds while
errors < t n). Burn rate = observed bad ratio / allowed ratio (1 = spending exactly the budget)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any, TypedDict

import asyncpg

from app.contract import Pagination
from app.formatting import truncated_percentage, utc_iso
from app.periods import Period
from app.sla import service as sla
from app.sla.tiers import TIERS
from app.slo import budget, queries
from app.slo.models import Violation, ViolationPage
from app.slo.objectives import HUNDRED, QUANTILES, Objective, objectives
from app.slo.public import Row, violation_to_public

BURN_WINDOWS = (("5m", 300), ("30m", 1800), ("1h", 3600), ("6h", 21600))
PERCENTILE_COLUMNS = {"latency_p50": "p50", "latency_p95": "p95", "latency_p99": "p99"}  # of CALL_FIGURES
# One burn window's events and bad events: `slots`, `calls`, and per SLO its bad ones (`availability`:
# failed slots, `error_rate`, `latency_p95`, ...: bad calls); a service's windows by name (5m ... 6h).
Window = Mapping[str, int]
Windows = Mapping[str, Window]
# A service's call figures of a period: CALL_FIGURES' row, or app/slo/tally.py's kept equivalent.
CallFigures = Row
Figure = Decimal | int  # a count, or a rounded percent / minutes / ms


class EventsJson(TypedDict):
    """An SLO's events of the period (models.Events)."""

    unit: str  # slots | calls
    total: int
    bad: int


class ErrorBudgetJson(TypedDict):
    """An SLO's error budget of the period (models.ErrorBudget)."""

    unit: str  # minutes | calls
    total: Figure | None
    consumed: Figure | None
    remaining: Figure | None
    consumedPercent: Decimal | None


class MeasuredJson(TypedDict):
    """An SLO's figures of the period: _availability's or _calls'."""

    current: Figure | None
    met: bool | None
    events: EventsJson
    errorBudget: ErrorBudgetJson


class ObjectiveJson(MeasuredJson):
    """One SLO of a report (models.Objective): slo, name, target, unit, the measured figures, burn
    rates (the keys' order on the wire is the order _report writes them)."""

    slo: str
    name: str
    target: Decimal
    unit: str
    burnRates: dict[str, Decimal | None] | None


class SloServiceJson(TypedDict):
    id: str
    name: str
    tier: str
    tierName: str


class SloReportJson(TypedDict):
    """GET /api/slo/{serviceId} (models.SloReport) in plain JSON types and Decimals: a TypedDict, not
    the pydantic model, because the SLO job encodes and digests every active service's report at
    every run (workers/slo.py: the realtime event) and the metrics and the console read it by key."""

    service: SloServiceJson
    period: str
    periodStart: str
    periodEnd: str
    partial: bool
    asOf: str
    slos: list[ObjectiveJson]
    openViolations: list[dict[str, Any]]


def _round(value: Decimal | None, places: str = "0.01") -> Decimal | None:
    return None if value is None else value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def latency_targets(service: asyncpg.Record) -> list[int]:
    tier = TIERS[service["tier"]]
    return [tier.p50_ms, tier.p95_ms, tier.p99_ms]


async def burn_windows(conn: asyncpg.Connection, service: asyncpg.Record, now: datetime) -> dict[str, dict[str, int]]:
    """Per window name, the events and bad events of every SLO in [now - window, now)."""
    return (await burn_windows_many(conn, [service], now))[service["id"]]


def _targets(services: list[asyncpg.Record]) -> list[list[int]]:
    """The services' P50, P95 and P99 latency targets, as three arrays in the services' order."""
    return [list(column) for column in zip(*(latency_targets(s) for s in services), strict=True)]


async def burn_windows_many(
    conn: asyncpg.Connection, services: list[asyncpg.Record], now: datetime
) -> dict[str, dict[str, dict[str, int]]]:
    """burn_windows of every service, in two statements."""
    if not services:
        return {}
    ids = [s["id"] for s in services]
    seconds = [s for _, s in BURN_WINDOWS]
    slots = {(r["service_id"], r["seconds"]): r for r in await conn.fetch(queries.SLOT_WINDOWS, ids, now, seconds)}
    calls = {
        (r["service_id"], r["seconds"]): r
        for r in await conn.fetch(queries.CALL_WINDOWS, ids, now, seconds, *_targets(services))
    }
    return {
        sid: {
            name: {
                **{k: v for k, v in calls[sid, s].items() if k != "service_id"},
                "slots": slots[sid, s]["slots"],
                "availability": slots[sid, s]["availability"],
            }
            for name, s in BURN_WINDOWS
        }
        for sid in ids
    }


def _availability(objective: Objective, checks: sla.CheckFigures, period: Period) -> MeasuredJson:
    period_minutes = period.minutes
    spent = budget.budget(objective.target, period_minutes, Decimal(checks.downtime_s) / 60)
    consumed = spent.consumed_ratio
    return {
        "current": truncated_percentage(checks.ok_slots, checks.slots),
        "met": None if checks.slots == 0 else checks.ok_slots * HUNDRED >= objective.target * checks.slots,
        "events": {"unit": "slots", "total": checks.slots, "bad": checks.failed_slots},
        "errorBudget": {
            "unit": "minutes",
            "total": _round(spent.total_minutes),
            "consumed": _round(spent.consumed_minutes),
            "remaining": _round(spent.remaining_minutes),
            "consumedPercent": None if consumed is None else _round(consumed * HUNDRED),
        },
    }


def allowed_bad_calls(objective: Objective, calls: int) -> int:
    """Bad calls the SLO tolerates among `calls` (see the module docstring)."""
    if objective.unit == "ms":
        quantile = QUANTILES[objective.slo]
        return calls - int((quantile * calls).to_integral_value(rounding=ROUND_CEILING))
    return max(0, int((objective.allowed_ratio * calls).to_integral_value(rounding=ROUND_CEILING)) - 1)


def _calls(objective: Objective, figures: CallFigures) -> MeasuredJson:
    total: int = figures["calls"]
    bad: int = figures[objective.slo]
    current: Figure | None
    allowed = allowed_bad_calls(objective, total)
    if objective.unit == "ms":
        current = figures[PERCENTILE_COLUMNS[objective.slo]]
        met = None if current is None else current < objective.target
    else:
        current = _round(Decimal(bad) * HUNDRED / total, "0.0001") if total else None
        met = None if total == 0 else bad * HUNDRED < objective.target * total
    return {
        "current": current,
        "met": met,
        "events": {"unit": "calls", "total": total, "bad": bad},
        "errorBudget": {
            "unit": "calls",
            "total": allowed,
            "consumed": bad,
            "remaining": allowed - bad,
            "consumedPercent": _round(Decimal(bad) * HUNDRED / allowed) if allowed else None,
        },
    }


def burn_rates(objective: Objective, windows: Windows | None) -> dict[str, Decimal | None] | None:
    if windows is None:
        return None
    events = "slots" if objective.events == "slots" else "calls"
    return {
        name: _round(budget.burn_rate(w[objective.slo], w[events], objective.target_percent))
        for name, w in windows.items()
    }


async def report(
    conn: asyncpg.Connection, service: asyncpg.Record, period: Period, now: datetime, timezone_name: str
) -> SloReportJson:
    """Every SLO of the service for the period (to `now` while it runs); burn rates only while it runs."""
    return (await reports(conn, [service], period, now, timezone_name))[service["id"]]


async def reports(
    conn: asyncpg.Connection,
    services: list[asyncpg.Record],
    period: Period,
    now: datetime,
    timezone_name: str,
    windows: Mapping[str, Windows] | None = None,
    calls: Mapping[str, CallFigures] | None = None,
) -> dict[str, SloReportJson]:
    """report() of every service, in a few statements for all of them (`windows`: their burn windows
    at `now`, `calls`: their call figures of the period to `now` as CALL_FIGURES gives them, when the
    caller has them already: app/slo/tally.py)."""
    if not services:
        return {}
    ids = [s["id"] for s in services]
    end = min(period.end, now)
    days = await sla.check_days(conn, services, period, now, timezone_name)
    if calls is None:
        calls = {
            r["service_id"]: r
            for r in await conn.fetch(queries.CALL_FIGURES, ids, period.start, end, *_targets(services))
        }
    running = period.start <= now < period.end
    if running and windows is None:
        windows = await burn_windows_many(conn, services, now)
    open_rows: dict[str, list[asyncpg.Record]] = {sid: [] for sid in ids}
    for row in await conn.fetch(queries.OPEN_OF_SERVICES, ids):
        open_rows[row["service_id"]].append(row)
    return {
        s["id"]: _report(
            s,
            period,
            now,
            sla.total(days[s["id"]]),
            calls[s["id"]],
            windows[s["id"]] if running and windows is not None else None,
            open_rows[s["id"]],
        )
        for s in services
    }


def _report(
    service: asyncpg.Record,
    period: Period,
    now: datetime,
    checks: sla.CheckFigures,
    calls: CallFigures,
    windows: Windows | None,
    open_rows: list[asyncpg.Record],
) -> SloReportJson:
    tier = TIERS[service["tier"]]
    slos: list[ObjectiveJson] = []
    for objective in objectives(tier):
        figures = _availability(objective, checks, period) if objective.events == "slots" else _calls(objective, calls)
        slos.append(
            {
                "slo": objective.slo,
                "name": objective.name,
                "target": objective.target,
                "unit": objective.unit,
                **figures,
                "burnRates": burn_rates(objective, windows),
            }
        )
    return {
        "service": {"id": service["id"], "name": service["name"], "tier": tier.name, "tierName": tier.label},
        "period": period.label,
        "periodStart": utc_iso(period.start_local),
        "periodEnd": utc_iso(period.end_local),
        "partial": period.is_partial(now),
        "asOf": utc_iso(min(now, period.end)),
        "slos": slos,
        "openViolations": [violation_to_public(r, now) for r in sorted(open_rows, key=lambda r: r["id"])],
    }


async def list_violations(
    conn: asyncpg.Connection,
    now: datetime,
    *,
    service_id: str | None,
    state: str | None,
    since: datetime | None,
    until: datetime | None,
    slo: str | None,
    severity: str | None,
    page: int,
    limit: int,
) -> ViolationPage:
    """Violations overlapping [since, until), newest first, one page."""
    filters = (service_id, None if state is None else state == "open", since, until, slo, severity)
    total: int = await conn.fetchval(queries.COUNT, *filters)
    rows = await conn.fetch(queries.LIST, *filters, limit, (page - 1) * limit)
    return ViolationPage(
        violations=[Violation.model_validate(violation_to_public(r, now)) for r in rows],
        pagination=Pagination.of(page, limit, total),
    )
