"""Forecasts of the SLO definitions (docs/sla-math.md "Forecasts of SLO definitions"), per definition
and service it covers, with app/slo/forecast.py unchanged; and their forecast alerts (sql/312), opened
and closed by the forecast cron (workers/forecast.py) idempotently.

Inputs: the definition's SLI per day (its filters and source, maintenance left out, as the engine:
app/slo/definitions/queries.py), budgets in the engine's units (checks in minutes, calls in events).
- A calendar window (week, month, quarter) is a period: its local days so far, the HISTORY_DAYS days
  before it, the last 7 days; app.slo.forecast as the tier SLOs' month.
- A rolling window of N days has no end. Its days are 24-hour slices ending now (age 0 = the last
  24 h). Exhaustion: when the window's budget runs out at a burn rate while its oldest slices drop out
  as they are (`rolling_exhaustion`); the probability is that of the window 24 h from now (its
  oldest slice dropped, one simulated slice added) ending past its budget: app.slo.forecast on the
  "period" of the N - 1 newest slices plus one day to come."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from app.formatting import utc_iso
from app.periods import Period, day_start, elapsed_seconds, local_date
from app.sla import service as sla
from app.slo import forecast
from app.slo.definitions import engine, queries, service, store
from app.slo.definitions.model import Definition, Sli
from app.slo.forecast import Day, Exhaustion, Forecast, Inputs
from app.slo.forecast import Window as Recent
from app.slo.forecast_service import (
    AlertSql,
    Change,
    Settings,
    alert_columns,
    alert_reasons,
    method_to_public,
    reconcile_alerts,
)
from app.slo.public import forecast_alert_fields

HISTORY_DAYS = forecast.POOL_DAYS
DAY_S = forecast.DAY_S
ROLLING_AHEAD_S = DAY_S  # a rolling window's probability: its SLI 24 h from now
HUNDRED = Decimal(100)
ZERO = Decimal(0)


def daily_sql(sli: Sli, ids: list[str], start: datetime, end: datetime, zone: str | None) -> tuple[str, list[Any]]:
    """Per service of `ids` and day in [start, end): the SLI's events and good events. `zone`: by local
    date there (column day, a date); None: by 24-hour slice ending at `end` (column day, the age, 0 the
    newest)."""
    params = queries.Params()
    ids_p, start_p, end_p = (params.add(v) for v in (ids, start, end))
    p = queries.predicates(sli, params)
    a = p.alias
    if zone is None:
        key = f"floor(extract(epoch FROM {end_p}::timestamptz - {a}.ts) / {DAY_S:d})::int"
    else:
        key = f"({a}.ts AT TIME ZONE {params.add(zone)})::date"
    sql = f"""
SELECT {a}.service_id, {key} AS day,
       count(*) FILTER (WHERE {p.events})::bigint AS events,
       count(*) FILTER (WHERE {p.good})::bigint AS good
FROM {queries._rows(sli, ids_p, f"c.ts >= {start_p} AND c.ts < {end_p}")}
GROUP BY 1, 2
"""
    return sql, params.values


def rolling_exhaustion(slices: Sequence[Decimal], budget: Decimal, rate_per_s: Decimal) -> Decimal | None:
    """Seconds until a rolling window of the bad events of `slices` (one a day, oldest first) holds its
    budget, when bad events come at `rate_per_s` and each oldest slice drops out evenly over its day;
    0 when it is spent already, None when it never runs out (after len(slices) days the window holds
    only the new burn, steady from then on)."""
    level = sum(slices, ZERO)
    if level > budget or (budget <= 0 and level > 0):
        return ZERO
    elapsed = ZERO
    for dropped in slices:
        change = rate_per_s * DAY_S - dropped  # over this day
        if change > 0 and level + change >= budget:
            return elapsed + (budget - level) * DAY_S / change
        level += change
        elapsed += DAY_S
    return None


def _burn(bad: Decimal, seconds: Decimal, budget: Decimal, window_s: Decimal) -> Decimal | None:
    """As app.slo.forecast.exhaustion: bad events per second over the budget's per second."""
    return None if seconds <= 0 or budget <= 0 else bad * window_s / (seconds * budget)


def rolling_forecast(series: Sequence[Day], days: int, allowed_ratio: Decimal, checks: bool) -> tuple[Inputs, Forecast]:
    """A rolling window of `days` over `series` (24-hour slices, oldest first, the last ending now):
    exhaustion at the window's and the last 7 days' burn, and the probability of its SLI being below
    target 24 h from now (the module docstring)."""
    window = list(series[-days:])
    window_s = Decimal(days * DAY_S)
    events = sum((d.total for d in window), ZERO)
    fixed_events = Decimal(days * 1440) if checks else events  # the window's events: minutes, or its calls
    budget = allowed_ratio * fixed_events
    consumed = sum((d.bad for d in window), ZERO)
    recent_days = list(series[-forecast.RECENT_DAYS :])
    recent_bad = sum((d.bad for d in recent_days), ZERO)
    recent_s = Decimal(len(recent_days) * DAY_S)
    bads = [d.bad for d in window]
    current = Exhaustion(
        _burn(consumed, window_s, budget, window_s), rolling_exhaustion(bads, budget, consumed / window_s)
    )
    recent = Exhaustion(
        _burn(recent_bad, recent_s, budget, window_s),
        rolling_exhaustion(bads, budget, recent_bad / recent_s if recent_s else ZERO),
    )
    ahead = Inputs(
        days=window[1:],
        elapsed_s=window_s - ROLLING_AHEAD_S,
        period_s=window_s,
        allowed_ratio=allowed_ratio,
        period_events=fixed_events,
        recent=Recent(recent_bad, sum((d.total for d in recent_days), ZERO), recent_s),
        history=list(series[: len(series) - len(window) + 1]),
    )
    probability, simulations, pool_days = forecast.miss_probability(  # the same budget, 24 h on
        ahead, budget, sum((d.bad for d in ahead.days), ZERO)
    )
    return ahead, Forecast(budget, consumed, current, recent, probability, simulations, pool_days)


@dataclass(frozen=True)
class Horizon:
    """What a definition's forecast is about at `now`."""

    label: str  # the calendar period's, or the rolling window's
    start: datetime
    end: datetime  # the period's end, or now + 24 h (rolling: the probability's moment)
    elapsed_s: Decimal  # for the alert rule's first-day grace (rolling: the whole window)


def _series(rows: dict[Any, tuple[int, int]], keys: Sequence[Any], scale: Decimal) -> list[Day]:
    found = []
    for key in keys:
        events, good = rows.get(key, (0, 0))
        found.append(Day(Decimal(events - good) * scale, Decimal(events) * scale))
    return found


async def _rows(
    conn: asyncpg.Connection, definition: Definition, ids: list[str], start: datetime, end: datetime, zone: str | None
) -> dict[str, dict[Any, tuple[int, int]]]:
    found: dict[str, dict[Any, tuple[int, int]]] = {sid: {} for sid in ids}
    if ids:
        sql, args = daily_sql(definition.sli, ids, start, end, zone)
        for row in await conn.fetch(sql, *args):
            found[row["service_id"]][row["day"]] = (row["events"], row["good"])
    return found


async def inputs(
    conn: asyncpg.Connection, definition: Definition, covered: list[Any], now: datetime, zone: ZoneInfo
) -> tuple[Horizon, dict[str, tuple[Inputs, Forecast]]]:
    """The horizon and, per covered service, the forecast's input and the forecast at `now`."""
    ids = [s["id"] for s in covered]
    checks = definition.sli.source == "checks"
    allowed_ratio = (HUNDRED - definition.target) / HUNDRED
    result: dict[str, tuple[Inputs, Forecast]] = {}
    if definition.window.kind == "rolling":
        days = definition.window.days
        assert days is not None  # Window.check
        count = days + HISTORY_DAYS
        found = await _rows(conn, definition, ids, now - timedelta(days=count), now, None)
        for s in covered:
            scale = Decimal(s["interval_s"]) / 60 if checks else Decimal(1)
            series = _series(found[s["id"]], range(count - 1, -1, -1), scale)
            result[s["id"]] = rolling_forecast(series, days, allowed_ratio, checks)
        horizon = Horizon(
            definition.window.label,
            now - timedelta(days=days),
            now + timedelta(seconds=ROLLING_AHEAD_S),
            Decimal(days * DAY_S),
        )
        return horizon, result
    assert definition.window.unit is not None
    period = engine.calendar_period(definition.window.unit, now, zone)
    today = local_date(now, zone)
    span = Period(period.first_day - timedelta(days=HISTORY_DAYS), today + timedelta(days=1), zone, "forecast")
    span_days: list[date] = span.days()
    first = (period.first_day - span.first_day).days
    elapsed_s = Decimal(int(elapsed_seconds(period.start, now)))
    recent_first = max(0, len(span_days) - forecast.RECENT_DAYS)
    recent_s = Decimal(int(elapsed_seconds(day_start(span_days[recent_first], zone), now)))
    per_service: dict[str, list[Day]] = {}
    if engine.availability_days(definition):
        # As the engine: the SLA figures' daily rollups; the budget spent is the downtime.
        interval = {s["id"]: Decimal(s["interval_s"]) for s in covered}
        for sid, records in (await sla.check_days(conn, covered, span, now, zone.key)).items():
            per_service[sid] = [
                Day(Decimal(r.checks.downtime_s) / 60, Decimal(r.checks.slots) * interval[sid] / 60) for r in records
            ]
    else:
        found = await _rows(conn, definition, ids, span.start, now, zone.key)
        for s in covered:
            scale = Decimal(s["interval_s"]) / 60 if checks else Decimal(1)
            per_service[s["id"]] = _series(found[s["id"]], span_days, scale)
    for sid in ids:
        series = per_service[sid]
        given = Inputs(
            days=series[first:],
            elapsed_s=elapsed_s,
            period_s=Decimal(period.seconds),
            allowed_ratio=allowed_ratio,
            period_events=period.minutes if checks else None,
            recent=Recent(
                sum((d.bad for d in series[recent_first:]), ZERO),
                sum((d.total for d in series[recent_first:]), ZERO),
                recent_s,
            ),
            history=series[:first],
        )
        result[sid] = (given, forecast.forecast(given))
    return Horizon(period.label, period.start, period.end, elapsed_s), result


def _figure(value: Decimal, unit: str) -> Decimal:
    return value.quantize(Decimal("0.01") if unit == "minutes" else Decimal(1), rounding=ROUND_HALF_UP)


def _exhaustion(exhaustion: Exhaustion, now: datetime) -> dict[str, Any]:
    rate = exhaustion.burn_rate
    return {
        "burnRate": None if rate is None else rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        "exhausted": exhaustion.exhausted,
        "exhaustsAt": None
        if exhaustion.in_s is None
        else utc_iso(now + timedelta(seconds=int(exhaustion.in_s.to_integral_value(rounding=ROUND_HALF_UP)))),
    }


async def forecasts(
    conn: asyncpg.Connection,
    definition: Definition,
    now: datetime,
    zone: ZoneInfo,
    settings: Settings,
    covered: list[Any] | None = None,
) -> dict[str, Any]:
    """The definition's forecast for each service it covers (the public shape, without open alerts)."""
    if covered is None:
        covered = await service.services_of(conn, definition)
    horizon, found = await inputs(conn, definition, covered, now, zone)
    unit = "minutes" if definition.sli.source == "checks" else "calls"
    rows = []
    for s in covered:
        _, result = found[s["id"]]
        reasons = alert_reasons(result, horizon.elapsed_s, settings)
        probability = result.miss_probability
        rows.append(
            {
                "serviceId": s["id"],
                "serviceName": s["name"],
                "unit": unit,
                "budget": _figure(result.budget, unit),
                "consumed": _figure(result.consumed, unit),
                "remaining": _figure(result.remaining, unit),
                "currentBurn": _exhaustion(result.current, now),
                "recentBurn": _exhaustion(result.recent, now),
                "missProbability": None if probability is None else round(probability, 4),
                "simulations": result.simulations,
                "poolDays": result.pool_days,
                "alerting": bool(reasons),
                "alertReasons": reasons,
            }
        )
    return {
        "definition": definition.name,
        "displayName": definition.display_name,
        "target": definition.target,
        "op": definition.op,
        "window": {
            "kind": definition.window.kind,
            "label": horizon.label,
            "start": utc_iso(horizon.start),
            "forecastEnd": utc_iso(horizon.end),
        },
        "asOf": utc_iso(now),
        "method": method_to_public(settings),
        "services": rows,
    }


# --- forecast alerts (sql/312) -------------------------------------------------------------------
ALERT_SQL = AlertSql.of("slo_definition_forecast_alerts", ("definition", "service_id"), 5308422)
OPEN_ALERTS_OF_DEFINITION = f"""
SELECT {alert_columns(ALERT_SQL.key)} FROM slo_definition_forecast_alerts WHERE definition = $1 AND closed_at IS NULL
ORDER BY service_id
"""


def alert_to_public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "definition": row["definition"],
        "serviceId": row["service_id"],
        **forecast_alert_fields(row),
    }


async def open_alerts(conn: asyncpg.Connection, name: str) -> list[dict[str, Any]]:
    return [alert_to_public(r) for r in await conn.fetch(OPEN_ALERTS_OF_DEFINITION, name)]


def covers(definition: Definition, service_id: str) -> bool:
    return not definition.services or service_id in definition.services


async def every_forecast(
    conn: asyncpg.Connection, active: list[Any], now: datetime, zone: ZoneInfo, settings: Settings
) -> list[dict[str, Any]]:
    """The forecasts of every stored definition over the active services it covers (the tier
    definitions' are the tier forecasts, app/slo/forecast_service.py)."""
    reports = []
    for stored in await store.list_definitions(conn):
        covered = [s for s in active if covers(stored.definition, s["id"])]
        reports.append(await forecasts(conn, stored.definition, now, zone, settings, covered))
    return reports


async def by_service(
    conn: asyncpg.Connection, services: list[Any], now: datetime, zone: ZoneInfo, settings: Settings
) -> dict[str, list[dict[str, Any]]]:
    """Per service of `services`: the forecast rows of the stored definitions covering it, each with
    its definition's name, display name and window label (the running statement's forecast section)."""
    found: dict[str, list[dict[str, Any]]] = {s["id"]: [] for s in services}
    for report in await every_forecast(conn, services, now, zone, settings):
        for row in report["services"]:
            found[row["serviceId"]].append(
                row
                | {
                    "definition": report["definition"],
                    "displayName": report["displayName"],
                    "window": report["window"]["label"],
                    "forecastEnd": report["window"]["forecastEnd"],
                }
            )
    return found


async def of_service(
    conn: asyncpg.Connection, chosen: Any, now: datetime, zone: ZoneInfo, settings: Settings
) -> list[dict[str, Any]]:
    """The stored definitions covering one service, each with its forecast of that service (the
    console's /slo page)."""
    open_ones = {r["definition"]: r for r in await conn.fetch(ALERT_SQL.open_alerts) if r["service_id"] == chosen["id"]}
    found = []
    for stored in await store.list_definitions(conn):
        if covers(stored.definition, chosen["id"]):
            report = await forecasts(conn, stored.definition, now, zone, settings, [chosen])
            alert = open_ones.get(stored.definition.name)
            found.append(report | {"openAlert": None if alert is None else alert_to_public(alert)})
    return found


async def apply_alerts(conn: asyncpg.Connection, reports: list[dict[str, Any]], now: datetime) -> list[Change]:
    """The definitions' forecast alerts (app/slo/forecast_service.py reconcile_alerts): whose calendar
    period is over, or whose definition or service is gone, are closed too."""
    wanted = {
        (report["definition"], row["serviceId"]): (report["window"]["label"], row)
        for report in reports
        for row in report["services"]
        if row["alerting"]
    }
    return await reconcile_alerts(conn, ALERT_SQL, wanted, now)
