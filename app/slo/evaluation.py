"""SLO evaluation (the worker's cron): the violation rules of alerts.py over the last hours of 5-minute
measurements, and the burn-rate alerts, written to slo_violations idempotently — opened, escalated
and closed from what the data says now, so a run repeated or run by two workers at once changes
nothing more (per-service lock, one open violation per service and SLO in the schema)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import asyncpg

from app.sla.tiers import TIERS
from app.slo import alerts, budget, queries
from app.slo.alerts import CRITICAL, SEVERITY_RANK, WARNING, Rule, Verdict
from app.slo.objectives import HUNDRED, objectives
from app.slo.service import burn_windows

LOOKBACK = timedelta(hours=7)  # the longest rule (1 h) and burn window (6 h), with room to spare
BURN_ALERTS = (("burn_rate_fast", budget.FAST_BURN, CRITICAL), ("burn_rate_slow", budget.SLOW_BURN, WARNING))
EPOCH = datetime(2000, 1, 3, tzinfo=timezone.utc)  # a Monday: 5-minute buckets are aligned to it


@dataclass(frozen=True)
class Change:
    kind: str  # opened | escalated | closed
    violation: dict  # the row after the change


def bucket_floor(ts: datetime) -> datetime:
    return ts - (ts - EPOCH) % alerts.BUCKET


def measurements(slot_rows, call_rows) -> dict[str, list[tuple[datetime, Decimal | None]]]:
    """5-minute measurements per SLO, oldest first."""
    series: dict[str, list] = {
        "availability": [(r["bucket"], Decimal(r["ok_slots"]) * HUNDRED / r["slots"]) for r in slot_rows]
    }
    series["error_rate_4xx"] = [(r["bucket"], Decimal(r["c4xx"]) * HUNDRED / r["calls"]) for r in call_rows]
    series["error_rate_5xx"] = [(r["bucket"], Decimal(r["c5xx"]) * HUNDRED / r["calls"]) for r in call_rows]
    for q in ("50", "95", "99"):
        series[f"latency_p{q}"] = [
            (r["bucket"], None if r[f"p{q}"] is None else Decimal(r[f"p{q}"])) for r in call_rows
        ]
    return series


async def _apply_rule(conn, service_id: str, rule: Rule, verdict: Verdict | None, current) -> Change | None:
    if verdict is None:
        return None  # nothing measured (no data, maintenance): leave things as they are
    details = json.dumps(rule.details())
    if current is not None and not verdict.breaching:
        row = await conn.fetchrow(queries.CLOSE, service_id, rule.slo, verdict.last_breach_end or current["started_at"])
        return Change("closed", dict(row))
    if current is not None:
        severity = max(current["severity"], verdict.severity, key=SEVERITY_RANK.__getitem__)
        worst = rule.worse(current["worst_value"], verdict.worst)
        if (severity, worst) == (current["severity"], current["worst_value"]):
            return None
        threshold = rule.critical if severity == CRITICAL else rule.warning
        row = await conn.fetchrow(queries.UPDATE_OPEN, service_id, rule.slo, severity, threshold, worst, details)
        return Change("escalated", dict(row)) if severity != current["severity"] else None
    if verdict.severity is None:
        return None
    row = await conn.fetchrow(
        queries.OPEN,
        service_id,
        rule.slo,
        verdict.severity,
        verdict.started_at,
        verdict.threshold,
        verdict.worst,
        details,
    )
    return Change("opened", dict(row)) if row else None


async def _apply_burn(
    conn, service_id: str, slo: str, alert, severity: str, windows: dict, target: Decimal, current, now: datetime
) -> Change | None:
    long_window, short_window, threshold = alert
    long_w, short_w = windows[long_window], windows[short_window]
    long_rate = budget.burn_rate(long_w["availability"], long_w["slots"], target)
    short_rate = budget.burn_rate(short_w["availability"], short_w["slots"], target)
    details = json.dumps(
        {
            "budget": "availability",
            "longWindow": long_window,
            "shortWindow": short_window,
            "longRate": str(long_rate),
            "shortRate": str(short_rate),
        }
    )
    if not budget.burning(long_rate, short_rate, threshold):
        if current is None:
            return None
        return Change("closed", dict(await conn.fetchrow(queries.CLOSE, service_id, slo, now)))
    if current is None:
        row = await conn.fetchrow(queries.OPEN, service_id, slo, severity, now, threshold, long_rate, details)
        return Change("opened", dict(row)) if row else None
    if current["worst_value"] is None or long_rate > current["worst_value"]:
        await conn.execute(queries.UPDATE_OPEN, service_id, slo, severity, threshold, long_rate, details)
    return None


async def evaluate(
    conn: asyncpg.Connection, service, now: datetime, *, rules: bool = True, burns: bool = True
) -> list[Change]:
    """Open, escalate and close the service's violations from its last hours of data: the violation
    rules and the burn-rate alerts, or one of them when the other cannot change (app/slo/sweep.py)."""
    tier = TIERS[service["tier"]]
    service_objectives = objectives(tier)
    end = bucket_floor(now)  # complete 5-minute measurements only
    changes: list[Change] = []
    async with conn.transaction():
        await conn.execute(queries.LOCK_SERVICE, service["id"])
        current = {r["slo"]: r for r in await conn.fetch(queries.OPEN_OF_SERVICE, service["id"])}
        if rules:
            series = measurements(
                await conn.fetch(queries.SLOT_BUCKETS, service["id"], end - LOOKBACK, end),
                await conn.fetch(queries.CALL_BUCKETS, service["id"], end - LOOKBACK, end),
            )
            for rule in alerts.rules(service_objectives):
                change = await _apply_rule(
                    conn, service["id"], rule, alerts.judge(rule, series[rule.slo]), current.get(rule.slo)
                )
                changes += [change] if change else []
        if not burns:
            return changes
        windows = await burn_windows(conn, service, now)
        availability = next(o for o in service_objectives if o.slo == "availability")
        for slo, alert, severity in BURN_ALERTS:
            change = await _apply_burn(
                conn, service["id"], slo, alert, severity, windows, availability.target_percent, current.get(slo), now
            )
            changes += [change] if change else []
    return changes


async def close_inactive(conn: asyncpg.Connection) -> list[Change]:
    """End the open violations of services that left the catalog (they are evaluated no more)."""
    return [Change("closed", dict(r)) for r in await conn.fetch(queries.CLOSE_INACTIVE)]
