"""The forecasts of a service's tier SLOs for the running month (docs/sla-math.md "Forecasts"): their
inputs read per local day of the reporting zone (availability from the daily check rollup, as every
SLA figure; call SLOs from `api_calls`; maintenance left out of both), handed to app.slo.forecast, and
the forecast alerts (sql/310) opened and closed from them, idempotently.

Availability counts minutes: a day's bad events are its down minutes, its events the judged minutes
(slots x interval); the budget is fixed, (1 - target) x the month's minutes, as GET /api/slo/{id}
shows it. A call SLO counts calls: bad calls (latency at or over the target, an error status) among
all calls. The history is the HISTORY_DAYS days before the month."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg

from app.formatting import utc_iso
from app.periods import Period, day_start, elapsed_seconds, local_date, month
from app.sla import service as sla
from app.sla.tiers import TIERS
from app.slo import forecast
from app.slo.forecast import Day, Forecast, Inputs, Window
from app.slo.objectives import Objective, objectives
from app.slo.public import forecast_alert_fields

HISTORY_DAYS = forecast.POOL_DAYS
METHOD = "bootstrap"
# The current burn is too noisy to alert on before a day of the month has passed (one failed minute
# in the first ten spends the budget "within hours"); the 7-day burn reaches into the previous month.
CURRENT_BURN_MIN_ELAPSED_S = 86_400
_CALL_COLUMNS = ("calls", "latency_p50", "latency_p95", "latency_p99", "error_rate", "error_rate_5xx", "error_rate_4xx")

# Per service of $1 and local day (zone $4) in [$2, $3): calls and bad calls per SLO, given the services'
# P50, P95 and P99 latency targets ($5, $6, $7, arrays in the order of $1); calls in a maintenance
# window of their service left out.
CALL_DAYS = """
SELECT t.service_id, (c.ts AT TIME ZONE $4)::date AS day,
       count(*)::int AS calls,
       count(*) FILTER (WHERE c.status_code NOT BETWEEN 200 AND 399)::int AS error_rate,
       count(*) FILTER (WHERE c.status_code BETWEEN 500 AND 599)::int AS error_rate_5xx,
       count(*) FILTER (WHERE c.status_code BETWEEN 400 AND 499)::int AS error_rate_4xx,
       count(*) FILTER (WHERE c.latency_ms >= t.p50)::int AS latency_p50,
       count(*) FILTER (WHERE c.latency_ms >= t.p95)::int AS latency_p95,
       count(*) FILTER (WHERE c.latency_ms >= t.p99)::int AS latency_p99
FROM unnest($1::text[], $5::int[], $6::int[], $7::int[]) AS t(service_id, p50, p95, p99)
JOIN api_calls c ON c.service_id = t.service_id AND c.ts >= $2 AND c.ts < $3
WHERE NOT EXISTS (SELECT 1 FROM sla_maintenance_windows w
                  WHERE c.service_id = ANY(w.affected_services) AND c.ts >= w.starts_at AND c.ts < w.ends_at)
GROUP BY 1, 2
"""


# --- forecast alerts (sql/310) ---------------------------------------------------------------------
@dataclass(frozen=True)
class AlertSql:
    """The statements of one forecast alerts' table: keyed by two columns (service and SLO, or
    definition and service), `period` the window the alert belongs to."""

    lock: str
    open_alerts: str  # every open alert
    open: str  # $1 $2 the key, $3 period, $4 now, $5 reasons, $6 exhausts at, $7 miss probability, $8 details
    close: str  # $1 id, $2 now
    key: tuple[str, str]  # the key's columns

    @classmethod
    def of(cls, table: str, key: tuple[str, str], lock_id: int) -> AlertSql:
        """The statements of `table`, whose open alerts are unique by `key` (closed_at IS NULL)."""
        columns = alert_columns(key)
        return cls(
            lock=f"SELECT pg_advisory_xact_lock({lock_id})",  # one evaluation of the table's alerts at a time
            open_alerts=f"SELECT {columns} FROM {table} WHERE closed_at IS NULL",
            open=f"""
INSERT INTO {table}
    ({key[0]}, {key[1]}, period, opened_at, reasons, exhausts_at, miss_probability, details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
ON CONFLICT ({key[0]}, {key[1]}) WHERE closed_at IS NULL DO NOTHING
RETURNING {columns}
""",
            close=f"""
UPDATE {table} SET closed_at = greatest($2, opened_at) WHERE id = $1 AND closed_at IS NULL
RETURNING {columns}
""",
            key=key,
        )


def alert_columns(key: tuple[str, str]) -> str:
    return f"id, {key[0]}, {key[1]}, period, opened_at, closed_at, reasons, exhausts_at, miss_probability, details"


ALERT_SQL = AlertSql.of("slo_forecast_alerts", ("service_id", "slo"), 5308421)
OPEN_ALERTS_OF_SERVICE = f"""
SELECT {alert_columns(ALERT_SQL.key)} FROM slo_forecast_alerts WHERE service_id = $1 AND closed_at IS NULL ORDER BY slo
"""


@dataclass(frozen=True)
class Settings:
    """When a forecast alerts (SLAMON_FORECAST_HORIZON_H, SLAMON_FORECAST_MISS_PROBABILITY)."""

    horizon_s: int = 86_400
    miss_probability: float = 0.5


def method_to_public(settings: Settings) -> dict[str, Any]:
    """How a forecast is made: the `method` of the tier SLOs' and the definitions' forecasts."""
    return {
        "name": METHOD,
        "simulations": forecast.SIMULATIONS,
        "seed": forecast.SEED,
        "historyDays": HISTORY_DAYS,
        "recentDays": forecast.RECENT_DAYS,
        "horizonHours": settings.horizon_s / 3600,
        "missProbabilityThreshold": settings.miss_probability,
    }


def _latency_targets(services: list[Any]) -> list[list[int]]:
    tiers = [TIERS[s["tier"]] for s in services]
    return [[t.p50_ms for t in tiers], [t.p95_ms for t in tiers], [t.p99_ms for t in tiers]]


def _sum(days: list[Day]) -> tuple[Decimal, Decimal]:
    return sum((d.bad for d in days), Decimal(0)), sum((d.total for d in days), Decimal(0))


def running_month(now: datetime, zone: Any) -> Period:
    today = local_date(now, zone)
    return month(today.year, today.month, zone)


async def inputs(
    conn: asyncpg.Connection, services: list[Any], now: datetime, timezone_name: str, zone: Any
) -> dict[str, dict[str, tuple[Objective, Inputs]]]:
    """Per service and SLO of its tier: the objective and the forecast's input at `now`."""
    period = running_month(now, zone)
    today = local_date(now, zone)
    span = Period(period.first_day - timedelta(days=HISTORY_DAYS), today + timedelta(days=1), zone, "forecast")
    days = span.days()
    month_from = (period.first_day - span.first_day).days
    checks = await sla.check_days(conn, services, span, now, timezone_name)
    ids = [s["id"] for s in services]
    calls: dict[str, dict[int, Any]] = {sid: {} for sid in ids}
    if ids:
        for row in await conn.fetch(CALL_DAYS, ids, span.start, now, timezone_name, *_latency_targets(services)):
            calls[row["service_id"]][(row["day"] - span.first_day).days] = row
    elapsed_s = Decimal(int(elapsed_seconds(period.start, now)))
    recent_first = max(0, len(days) - forecast.RECENT_DAYS)
    recent_s = Decimal(int(elapsed_seconds(day_start(days[recent_first], zone), now)))
    result: dict[str, dict[str, tuple[Objective, Inputs]]] = {}
    for service in services:
        sid, interval = service["id"], Decimal(service["interval_s"])
        per_slo: dict[str, tuple[Objective, Inputs]] = {}
        for objective in objectives(TIERS[service["tier"]]):
            if objective.events == "slots":
                series = [Day(Decimal(r.checks.downtime_s) / 60, r.checks.slots * interval / 60) for r in checks[sid]]
                period_events: Decimal | None = period.minutes
            else:
                rows = calls[sid]
                series = [
                    Day(Decimal(rows[i][objective.slo]), Decimal(rows[i]["calls"]))
                    if i in rows
                    else Day(Decimal(0), Decimal(0))
                    for i in range(len(days))
                ]
                period_events = None
            bad, total = _sum(series[recent_first:])
            per_slo[objective.slo] = (
                objective,
                Inputs(
                    days=series[month_from:],
                    elapsed_s=elapsed_s,
                    period_s=Decimal(period.seconds),
                    allowed_ratio=objective.allowed_ratio,
                    period_events=period_events,
                    recent=Window(bad, total, recent_s),
                    history=series[:month_from],
                ),
            )
        result[sid] = per_slo
    return result


def alert_reasons(result: Forecast, elapsed_s: Decimal, settings: Settings) -> list[str]:
    """Why the forecast alerts: the budget runs out within the horizon at the month's burn (after its
    first day) or at the last 7 days' burn, or the month misses with at least the set probability."""
    horizon = Decimal(settings.horizon_s)
    reasons = []
    if elapsed_s >= CURRENT_BURN_MIN_ELAPSED_S and result.current.in_s is not None and result.current.in_s <= horizon:
        reasons.append("exhaustion_current_burn")
    if result.recent.in_s is not None and result.recent.in_s <= horizon:
        reasons.append("exhaustion_recent_burn")
    if result.miss_probability is not None and result.miss_probability >= settings.miss_probability:
        reasons.append("miss_probability")
    return reasons


def _figure(value: Decimal, unit: str) -> Decimal:
    return value.quantize(Decimal("0.01") if unit == "minutes" else Decimal(1), rounding=ROUND_HALF_UP)


def _burn(exhaustion: forecast.Exhaustion, now: datetime) -> dict[str, Any]:
    rate = exhaustion.burn_rate
    return {
        "burnRate": None if rate is None else rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        "exhausted": exhaustion.exhausted,
        "exhaustsAt": None
        if exhaustion.in_s is None
        else utc_iso(now + timedelta(seconds=int(exhaustion.in_s.to_integral_value(rounding=ROUND_HALF_UP)))),
    }


def to_public(
    objective: Objective, inputs: Inputs, result: Forecast, now: datetime, settings: Settings
) -> dict[str, Any]:
    unit = "minutes" if objective.events == "slots" else "calls"
    reasons = alert_reasons(result, inputs.elapsed_s, settings)
    probability = result.miss_probability
    return {
        "slo": objective.slo,
        "name": objective.name,
        "unit": unit,
        "budget": _figure(result.budget, unit),
        "consumed": _figure(result.consumed, unit),
        "remaining": _figure(result.remaining, unit),
        "currentBurn": _burn(result.current, now),
        "recentBurn": _burn(result.recent, now),
        "missProbability": None if probability is None else round(probability, 4),
        "simulations": result.simulations,
        "poolDays": result.pool_days,
        "alerting": bool(reasons),
        "alertReasons": reasons,
    }


async def forecasts(
    conn: asyncpg.Connection, services: list[Any], now: datetime, timezone_name: str, zone: Any, settings: Settings
) -> dict[str, dict[str, Any]]:
    """Per service: the running month's forecast of every SLO of its tier (the public shape)."""
    period = running_month(now, zone)
    found = await inputs(conn, services, now, timezone_name, zone)
    result = {}
    for service in services:
        tier = TIERS[service["tier"]]
        slos = [
            to_public(objective, given, forecast.forecast(given), now, settings)
            for objective, given in found[service["id"]].values()
        ]
        result[service["id"]] = {
            "service": {"id": service["id"], "name": service["name"], "tier": tier.name, "tierName": tier.label},
            "period": period.label,
            "periodStart": utc_iso(period.start_local),
            "periodEnd": utc_iso(period.end_local),
            "asOf": utc_iso(now),
            "method": method_to_public(settings),
            "slos": slos,
        }
    return result


def alert_to_public(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "serviceId": row["service_id"], "slo": row["slo"], **forecast_alert_fields(row)}


async def open_alerts(conn: asyncpg.Connection, service_id: str) -> list[dict[str, Any]]:
    return [alert_to_public(r) for r in await conn.fetch(OPEN_ALERTS_OF_SERVICE, service_id)]


@dataclass(frozen=True)
class Change:
    kind: str  # opened | closed
    alert: dict[str, Any]  # the row after the change


def _earliest(slo: dict[str, Any]) -> datetime | None:
    found = [b["exhaustsAt"] for b in (slo["currentBurn"], slo["recentBurn"]) if b["exhaustsAt"] is not None]
    return datetime.fromisoformat(min(found).replace("Z", "+00:00")) if found else None


async def reconcile_alerts(
    conn: asyncpg.Connection,
    sql: AlertSql,
    wanted: dict[tuple[str, str], tuple[str, dict[str, Any]]],
    now: datetime,
) -> list[Change]:
    """Open the alert of every key of `wanted` (its period, its forecast) with none open for that
    period; close every open one no longer wanted (or of another period): from what the forecasts say
    now, so a run repeated or run by two workers at once changes nothing more (one open alert per
    key in the schema, and a lock)."""
    changes = []
    async with conn.transaction():
        await conn.execute(sql.lock)
        current = {(r[sql.key[0]], r[sql.key[1]]): r for r in await conn.fetch(sql.open_alerts)}
        for key, alert in current.items():
            if key not in wanted or wanted[key][0] != alert["period"]:
                closed = await conn.fetchrow(sql.close, alert["id"], now)
                if closed is not None:
                    changes.append(Change("closed", dict(closed)))
        for key, (period_label, row) in wanted.items():
            if key in current and current[key]["period"] == period_label:
                continue
            details = {k: row[k] for k in ("budget", "consumed", "remaining", "currentBurn", "recentBurn", "unit")}
            probability = row["missProbability"]
            opened = await conn.fetchrow(
                sql.open,
                *key,
                period_label,
                now,
                row["alertReasons"],
                _earliest(row),
                None if probability is None else Decimal(str(probability)),
                json.dumps(details, default=str),
            )
            if opened is not None:
                changes.append(Change("opened", dict(opened)))
    return changes


async def apply_alerts(conn: asyncpg.Connection, reports: dict[str, dict[str, Any]], now: datetime) -> list[Change]:
    """The tier SLOs' forecast alerts (reconcile_alerts): whose month is over, or whose service left
    the evaluation, are closed too."""
    wanted = {
        (sid, slo["slo"]): (report["period"], slo)
        for sid, report in reports.items()
        for slo in report["slos"]
        if slo["alerting"]
    }
    return await reconcile_alerts(conn, ALERT_SQL, wanted, now)
