"""The SLO definitions engine (docs/sla-math.md#slo-definitions): for a definition and its services at
`now`, the window, the events and good events, the SLI, whether it is met, the error budget, the
nearest-rank percentile, burn rates; and the evaluation of its alerts, written to
slo_definition_violations idempotently (the worker, workers/slo_definitions.py).

Everything is read for all the definition's services at once: one statement for the window's figures
and burn windows, one for the 5-minute measurements of the threshold alerts. An availability over a
calendar window (`availability_days`) takes its window's counts from the SLA figures' daily rollups.

- Window: rolling N days is [now - N days, now), N x 1440 minutes long; a calendar week (from Monday
  00:00), month or quarter of the reporting zone is [its start, now) to date, its length the whole
  period's elapsed minutes (a DST week is 10,020 or 10,140 minutes), as the tier SLOs' month.
- met: good x 100 >= target x events (op gte) or > (op gt); None without events.
- Error budget: for checks in minutes, (1 - target) x the window's minutes, consumed by the bad slots
  x the service's check interval (app/slo/service.py `_availability`); for calls in events, the bad
  calls the events so far allow while the SLO still holds: n - ceil(t n) for gte, ceil((1 - t) n) - 1
  for gt (app/slo/service.py `allowed_bad_calls`).
- Burn rate over a window w ending now: (bad / events in w) / (1 - target).
- Alerts: a burn-rate alert fires while both its windows burn at least its factor (opened and closed
  at `now`); a threshold alert judges the complete 5-minute measurements of the look-back with the
  tier SLOs' rule (app/slo/alerts.py `judge`): opened where its run started, closed at the end of the
  last breaching measurement."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from app.periods import Period, local_date, month, quarter
from app.sla import service as sla
from app.slo import alerts, budget
from app.slo.definitions import queries
from app.slo.definitions.model import BurnRateAlert, Definition, Filter, ThresholdAlert, Window
from app.slo.evaluation import bucket_floor
from app.slo.public import violation_fields

HUNDRED = Decimal(100)
# Burn rates shown for every definition (the tier SLOs' windows, app/slo/service.py), besides its alerts'.
STANDARD_BURN_MINUTES = (5, 30, 60, 360)
# Threshold alerts look back over their longest duration and this much more (a run that started
# earlier is still judged from the look-back; an open violation keeps where it started).
LOOKBACK_EXTRA = timedelta(hours=6)


@dataclass(frozen=True)
class Span:
    """A definition's window at `now`: [start, end) to date, and its whole length in minutes."""

    start: datetime
    end: datetime
    minutes: Decimal
    label: str
    period_end: datetime  # rolling: end


def week(day: date, zone: ZoneInfo) -> Period:
    """The calendar week (Monday to Sunday) holding `day`, 'YYYY-Www' (ISO week)."""
    monday = day - timedelta(days=day.weekday())
    iso = monday.isocalendar()
    return Period(monday, monday + timedelta(days=7), zone, f"{iso.year:04d}-W{iso.week:02d}")


def calendar_period(unit: str, now: datetime, zone: ZoneInfo) -> Period:
    today = local_date(now, zone)
    if unit == "week":
        return week(today, zone)
    if unit == "month":
        return month(today.year, today.month, zone)
    return quarter(today.year, (today.month - 1) // 3 + 1, zone)


def span(window: Window, now: datetime, zone: ZoneInfo) -> Span:
    if window.kind == "rolling":
        assert window.days is not None  # Window.check
        return Span(now - timedelta(days=window.days), now, Decimal(window.days * 1440), window.label, now)
    assert window.unit is not None
    period = calendar_period(window.unit, now, zone)
    return Span(period.start, min(now, period.end), period.minutes, period.label, period.end)


def burn_minutes(definition: Definition) -> list[int]:
    """The burn windows shown and judged: the standard ones and every burn-rate alert's, ascending."""
    found = set(STANDARD_BURN_MINUTES)
    for alert in definition.alerts:
        if isinstance(alert, BurnRateAlert):
            found |= {alert.long_minutes, alert.short_minutes}
    return sorted(found)


def window_name(minutes: int) -> str:
    """5 -> '5m', 60 -> '1h', 90 -> '90m', 1440 -> '24h'."""
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _round(value: Decimal | None, places: str = "0.01") -> Decimal | None:
    return None if value is None else value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def round_rate(value: Decimal | None) -> Decimal | None:
    """A burn rate as shown: 2 places, half up (as the tier SLOs')."""
    return _round(value)


def allowed_bad(definition: Definition, events: int) -> int:
    """Bad events the SLO tolerates among `events` (the module docstring)."""
    ratio = definition.target / HUNDRED
    if definition.op == "gte":
        return events - int((ratio * events).to_integral_value(rounding=ROUND_CEILING))
    return max(0, int(((1 - ratio) * events).to_integral_value(rounding=ROUND_CEILING)) - 1)


def met(definition: Definition, good: int, events: int) -> bool | None:
    if events == 0:
        return None
    if definition.op == "gte":
        return good * HUNDRED >= definition.target * events
    return good * HUNDRED > definition.target * events


def sli_percent(good: int, events: int) -> Decimal | None:
    """Good events in percent, truncated to 4 places (never shown as 100 while one event is bad)."""
    if events == 0:
        return None
    return (Decimal(good) * HUNDRED / events).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Figures:
    """A service's counts at `now` (engine.figures)."""

    service_id: str
    interval_s: int
    events: int
    good: int
    percentile: int | None
    windows: dict[int, tuple[int, int]]  # minutes -> (events, good)
    downtime_s: int | None = None  # from the SLA figures' daily rollups (`availability_days`)

    @property
    def bad(self) -> int:
        return self.events - self.good

    @property
    def consumed_s(self) -> int:
        """Checks: the budget spent, the bad slots' time."""
        return self.bad * self.interval_s if self.downtime_s is None else self.downtime_s


def error_budget(definition: Definition, window: Span, fig: Figures) -> dict[str, Any]:
    if definition.sli.source == "checks":
        spent = budget.budget(definition.target, window.minutes, Decimal(fig.consumed_s) / 60)
        consumed = spent.consumed_ratio
        return {
            "unit": "minutes",
            "total": _round(spent.total_minutes),
            "consumed": _round(spent.consumed_minutes),
            "remaining": _round(spent.remaining_minutes),
            "consumedPercent": None if consumed is None else _round(consumed * HUNDRED),
        }
    allowed = allowed_bad(definition, fig.events)
    return {
        "unit": "calls",
        "total": allowed,
        "consumed": fig.bad,
        "remaining": allowed - fig.bad,
        "consumedPercent": _round(Decimal(fig.bad) * HUNDRED / allowed) if allowed else None,
    }


def burn_rate(definition: Definition, fig: Figures, minutes: int) -> Decimal | None:
    events, good = fig.windows[minutes]
    return budget.burn_rate(events - good, events, definition.target)


def assess(definition: Definition, window: Span, fig: Figures) -> dict[str, Any]:
    """A service's figures of the definition, as GET /api/slo-definitions/{name}/status shows them."""
    return {
        "serviceId": fig.service_id,
        "events": {
            "unit": "slots" if definition.sli.source == "checks" else "calls",
            "total": fig.events,
            "good": fig.good,
            "bad": fig.bad,
        },
        "sli": sli_percent(fig.good, fig.events),
        "met": met(definition, fig.good, fig.events),
        "percentileMs": fig.percentile,
        "errorBudget": error_budget(definition, window, fig),
        "burnRates": {window_name(m): _round(burn_rate(definition, fig, m)) for m in sorted(fig.windows)},
    }


async def figures(
    conn: asyncpg.Connection,
    definition: Definition,
    ids: list[str],
    now: datetime,
    zone: ZoneInfo,
    *,
    whole: bool = True,
) -> tuple[Span, dict[str, Figures]]:
    """The window and, per service of `ids`, its counts: one statement for all of them. `whole` False:
    the burn windows only (the alerts' evaluation), the SLO window's counts left at 0 unread."""
    window = span(definition.window, now, zone)
    minutes = burn_minutes(definition)
    if not ids:
        return window, {}
    days = availability_days(definition) and whole
    start = window.start if whole and not days else window.end
    sql, args = queries.figures(definition.sli, ids, start, window.end, [m * 60 for m in minutes])
    found = {}
    for row in await conn.fetch(sql, *args):
        found[row["service_id"]] = Figures(
            row["service_id"],
            row["interval_s"],
            row["events"],
            row["good"],
            row["percentile"] if definition.sli.percentile is not None else None,
            {m: (row[f"events_{k}"], row[f"good_{k}"]) for k, m in enumerate(minutes, start=1)},
        )
    if days:
        assert definition.window.unit is not None  # availability_days: a calendar window
        period = calendar_period(definition.window.unit, now, zone)
        rows = await conn.fetch(queries.SERVICES, ids)
        for sid, records in (await sla.check_days(conn, rows, period, now, zone.key)).items():
            checks = sla.total(records)
            good = checks.ok_slots if definition.sli.good is not None else checks.slots - checks.failed_slots
            found[sid] = replace(found[sid], events=checks.slots, good=good, downtime_s=checks.downtime_s)
    return window, found


def plain_availability(definition: Definition) -> bool:
    """Whether the SLI is the SLA figures' availability: good slots are the ok ones of all slots (or
    bad the failed ones)."""
    sli = definition.sli
    plain = sli.events == Filter() and (sli.good == Filter(ok=True) or sli.bad == Filter(ok=False))
    return sli.source == "checks" and plain


def availability_days(definition: Definition) -> bool:
    """Whether the SLO window's counts are the SLA figures' availability (app/sla/service.py
    `check_days`, read from the daily rollups): a plain availability over a calendar window, whose
    days are the reporting zone's."""
    return plain_availability(definition) and definition.window.kind == "calendar"


async def period_figures(
    conn: asyncpg.Connection, definition: Definition, ids: list[str], period: Period, now: datetime
) -> tuple[Span, dict[str, Figures]]:
    """The counts of each service of `ids` over a reporting period (the monthly report's month)
    instead of the definition's own window: [start, min(now, end)), the budget over the whole
    period's minutes; no burn windows. A plain availability is the SLA figures' own (check_days)."""
    cut = min(now, period.end)
    window = Span(period.start, cut, period.minutes, period.label, period.end)
    if not ids:
        return window, {}
    sql, args = queries.figures(definition.sli, ids, period.start, cut, [])
    found = {
        row["service_id"]: Figures(
            row["service_id"],
            row["interval_s"],
            row["events"],
            row["good"],
            row["percentile"] if definition.sli.percentile is not None else None,
            {},
        )
        for row in await conn.fetch(sql, *args)
    }
    if plain_availability(definition):
        rows = await conn.fetch(queries.SERVICES, ids)
        for sid, records in (await sla.check_days(conn, rows, period, now, period.zone.key)).items():
            checks = sla.total(records)
            good = checks.ok_slots if definition.sli.good is not None else checks.slots - checks.failed_slots
            found[sid] = replace(found[sid], events=checks.slots, good=good, downtime_s=checks.downtime_s)
    return window, found


# --- alerts ---------------------------------------------------------------------------------------


def rule(alert: ThresholdAlert) -> alerts.Rule:
    """A threshold alert as the tier SLOs' rule, its one severity at both levels."""
    return alerts.Rule(
        alert.name,
        alert.measure,
        "below" if alert.compare == "lt" else "above",
        alert.value,
        alert.buckets,
        alert.value,
        alert.buckets,
    )


def lookback(definition: Definition) -> timedelta:
    longest = max((a.minutes for a in definition.alerts if isinstance(a, ThresholdAlert)), default=0)
    return timedelta(minutes=longest) + LOOKBACK_EXTRA


def measurement(alert: ThresholdAlert, events: int, good: int, percentile: int | None) -> Decimal | None:
    """One 5-minute measurement of the alert's measure; None for a bucket without events."""
    if events == 0:
        return None
    if alert.measure == "good_percent":
        return Decimal(good) * HUNDRED / events
    if alert.measure == "bad_percent":
        return Decimal(events - good) * HUNDRED / events
    return None if percentile is None else Decimal(percentile)


async def measurements(
    conn: asyncpg.Connection, definition: Definition, ids: list[str], now: datetime
) -> dict[str, list[asyncpg.Record]]:
    """Per service, its complete 5-minute buckets of the look-back (oldest first)."""
    end = bucket_floor(now)
    found: dict[str, list[asyncpg.Record]] = {sid: [] for sid in ids}
    if ids:
        sql, args = queries.buckets(definition.sli, ids, end - lookback(definition), end)
        for row in await conn.fetch(sql, *args):
            found[row["service_id"]].append(row)
    return found


def judge(alert: ThresholdAlert, rows: Iterable[asyncpg.Record] | Iterable[dict[str, Any]]) -> alerts.Verdict | None:
    series = [(r["bucket"], measurement(alert, r["events"], r["good"], r["percentile"])) for r in rows]
    return alerts.judge(rule(alert), series)


@dataclass(frozen=True)
class Change:
    kind: str  # opened | closed
    violation: dict[str, Any]  # the row after the change


def _threshold_details(alert: ThresholdAlert) -> str:
    return json.dumps(
        {
            "kind": "threshold",
            "measure": alert.measure,
            "compare": alert.compare,
            "value": str(alert.value),
            "minutes": alert.minutes,
        }
    )


async def _apply_threshold(
    conn: asyncpg.Connection,
    name: str,
    sid: str,
    alert: ThresholdAlert,
    verdict: alerts.Verdict | None,
    current: asyncpg.Record | None,
) -> Change | None:
    if verdict is None:
        return None  # nothing measured (no data, maintenance): leave things as they are
    if current is not None and not verdict.breaching:
        row = await conn.fetchrow(
            queries.CLOSE, name, sid, alert.name, verdict.last_breach_end or current["started_at"]
        )
        return Change("closed", dict(row)) if row else None
    if current is not None:
        worst = rule(alert).worse(current["worst_value"], verdict.worst)
        if worst != current["worst_value"]:
            await conn.execute(queries.UPDATE_OPEN, name, sid, alert.name, worst, _threshold_details(alert))
        return None
    if verdict.severity is None:
        return None
    row = await conn.fetchrow(
        queries.OPEN,
        name,
        sid,
        alert.name,
        alert.severity,
        verdict.started_at,
        alert.value,
        verdict.worst,
        _threshold_details(alert),
    )
    return Change("opened", dict(row)) if row else None


async def _apply_burn(
    conn: asyncpg.Connection,
    definition: Definition,
    fig: Figures,
    alert: BurnRateAlert,
    current: asyncpg.Record | None,
    now: datetime,
) -> Change | None:
    long_rate = burn_rate(definition, fig, alert.long_minutes)
    short_rate = burn_rate(definition, fig, alert.short_minutes)
    details = json.dumps(
        {
            "kind": "burn_rate",
            "longMinutes": alert.long_minutes,
            "shortMinutes": alert.short_minutes,
            "factor": str(alert.factor),
            "longRate": str(long_rate),
            "shortRate": str(short_rate),
        }
    )
    name, sid = definition.name, fig.service_id
    if not budget.burning(long_rate, short_rate, alert.factor):
        if current is None:
            return None
        row = await conn.fetchrow(queries.CLOSE, name, sid, alert.name, now)
        return Change("closed", dict(row)) if row else None
    assert long_rate is not None  # burning
    if current is None:
        row = await conn.fetchrow(
            queries.OPEN, name, sid, alert.name, alert.severity, now, alert.factor, long_rate, details
        )
        return Change("opened", dict(row)) if row else None
    if current["worst_value"] is None or long_rate > current["worst_value"]:
        await conn.execute(queries.UPDATE_OPEN, name, sid, alert.name, long_rate, details)
    return None


async def evaluate(
    conn: asyncpg.Connection, definition: Definition, ids: list[str], now: datetime, zone: ZoneInfo
) -> list[Change]:
    """Open, escalate and close the definition's violations for its services `ids` from what the data
    says at `now`; open violations of services or alerts it no longer has end now. The data is read
    for all services at once, the violations written under a lock per (definition, service)."""
    thresholds = [a for a in definition.alerts if isinstance(a, ThresholdAlert)]
    burns = [a for a in definition.alerts if isinstance(a, BurnRateAlert)]
    figs: dict[str, Figures] = {}
    if burns:
        _, figs = await figures(conn, definition, ids, now, zone, whole=False)
    series = await measurements(conn, definition, ids, now) if thresholds else {}
    name = definition.name
    changes: list[Change] = []
    async with conn.transaction():
        stale = {r["service_id"] for r in await conn.fetch(queries.OPEN_OF_DEFINITION, name)}
        await conn.execute(queries.LOCK, name, sorted(set(ids) | stale))
        current = {(r["service_id"], r["alert"]): r for r in await conn.fetch(queries.OPEN_OF_DEFINITION, name)}
        found: Change | None
        for sid in ids:
            for alert in thresholds:
                found = await _apply_threshold(
                    conn, name, sid, alert, judge(alert, series[sid]), current.get((sid, alert.name))
                )
                changes += [found] if found else []
            for burn in burns:
                found = await _apply_burn(conn, definition, figs[sid], burn, current.get((sid, burn.name)), now)
                changes += [found] if found else []
        evaluated = {(sid, a.name) for sid in ids for a in definition.alerts}
        for key in sorted(set(current) - evaluated):
            row = await conn.fetchrow(queries.CLOSE, name, key[0], key[1], now)
            changes += [Change("closed", dict(row))] if row else []
    return changes


async def close_deleted(conn: asyncpg.Connection) -> list[Change]:
    """End the open violations of deleted definitions (evaluated no more) when they were deleted."""
    return [Change("closed", dict(r)) for r in await conn.fetch(queries.CLOSE_DELETED)]


def violation_to_public(row: asyncpg.Record | dict[str, Any], now: datetime) -> dict[str, Any]:
    head = {"id": row["id"], "definition": row["definition"], "serviceId": row["service_id"], "alert": row["alert"]}
    return {**head, **violation_fields(row, now)}
