"""SLO evaluation (the worker's cron): the violation rules of alerts.py over the last hours of 5-minute
measurements, and the burn-rate alerts, written to slo_violations idempotently — opened, escalated
and closed from what the data says now, so a run repeated or run by two workers at once changes
nothing more (per-service lock, one open violation per service and SLO in the schema)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import asyncpg

from app.sla.tiers import TIERS
from app.slo import alerts, budget, queries
from app.slo.alerts import CRITICAL, SEVERITY_RANK, WARNING, Rule, Verdict
from app.slo.objectives import HUNDRED, objectives
from app.slo.public import Row
from app.slo.service import Window, Windows, burn_windows_many

LOOKBACK = timedelta(hours=7)  # the longest rule (1 h) and burn window (6 h), with room to spare
BURN_ALERTS = (("burn_rate_fast", budget.FAST_BURN, CRITICAL), ("burn_rate_slow", budget.SLOW_BURN, WARNING))
EPOCH = datetime(2000, 1, 3, tzinfo=timezone.utc)  # a Monday: 5-minute buckets are aligned to it


@dataclass(frozen=True)
class Change:
    kind: str  # opened | escalated | closed
    violation: dict[str, Any]  # the row after the change (slo_violations' columns)


def bucket_floor(ts: datetime) -> datetime:
    return ts - (ts - EPOCH) % alerts.BUCKET


Series = list[tuple[datetime, Decimal | None]]  # 5-minute measurements (start, value), oldest first


def measurements(slot_rows: list[Row], call_rows: list[Row]) -> dict[str, Series]:
    """5-minute measurements per SLO, oldest first."""
    series: dict[str, Series] = {
        "availability": [(r["bucket"], Decimal(r["ok_slots"]) * HUNDRED / r["slots"]) for r in slot_rows]
    }
    series["error_rate_4xx"] = [(r["bucket"], Decimal(r["c4xx"]) * HUNDRED / r["calls"]) for r in call_rows]
    series["error_rate_5xx"] = [(r["bucket"], Decimal(r["c5xx"]) * HUNDRED / r["calls"]) for r in call_rows]
    for q in ("50", "95", "99"):
        series[f"latency_p{q}"] = [
            (r["bucket"], None if r[f"p{q}"] is None else Decimal(r[f"p{q}"])) for r in call_rows
        ]
    return series


async def _apply_rule(
    conn: asyncpg.Connection, service_id: str, rule: Rule, verdict: Verdict | None, current: asyncpg.Record | None
) -> Change | None:
    if verdict is None:
        return None  # nothing measured (no data, maintenance): leave things as they are
    details = json.dumps(rule.details())
    if current is not None and not verdict.breaching:
        row = await conn.fetchrow(queries.CLOSE, service_id, rule.slo, verdict.last_breach_end or current["started_at"])
        assert row is not None  # `current`, read under the service's lock
        return Change("closed", dict(row))
    if current is not None:
        severity = max(current["severity"], verdict.severity, key=SEVERITY_RANK.__getitem__)
        worst = rule.worse(current["worst_value"], verdict.worst)
        if (severity, worst) == (current["severity"], current["worst_value"]):
            return None
        threshold = rule.critical if severity == CRITICAL else rule.warning
        row = await conn.fetchrow(queries.UPDATE_OPEN, service_id, rule.slo, severity, threshold, worst, details)
        assert row is not None  # `current`, read under the service's lock
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
    conn: asyncpg.Connection,
    service_id: str,
    slo: str,
    alert: tuple[str, str, Decimal],
    severity: str,
    windows: Windows,
    target: Decimal,
    current: asyncpg.Record | None,
    now: datetime,
) -> Change | None:
    long_window, short_window, threshold = alert
    long_w: Window = windows[long_window]
    short_w: Window = windows[short_window]
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
        row = await conn.fetchrow(queries.CLOSE, service_id, slo, now)
        assert row is not None  # `current`, read under the service's lock
        return Change("closed", dict(row))
    if current is None:
        row = await conn.fetchrow(queries.OPEN, service_id, slo, severity, now, threshold, long_rate, details)
        return Change("opened", dict(row)) if row else None
    if current["worst_value"] is None or long_rate > current["worst_value"]:
        await conn.execute(queries.UPDATE_OPEN, service_id, slo, severity, threshold, long_rate, details)
    return None


async def evaluate(
    conn: asyncpg.Connection, service: asyncpg.Record, now: datetime, *, rules: bool = True, burns: bool = True
) -> list[Change]:
    """Open, escalate and close the service's violations from its last hours of data: the violation
    rules and the burn-rate alerts, or one of them when the other cannot change (app/slo/sweep.py)."""
    ids = {service["id"]}
    found = await evaluate_many(conn, [service], now, rules=ids if rules else set(), burns=ids if burns else set())
    return found[service["id"]]


async def measurements_many(conn: asyncpg.Connection, ids: list[str], now: datetime) -> dict[str, dict[str, Series]]:
    """measurements() of every service of `ids` over the look-back, in two statements."""
    end = bucket_floor(now)  # complete 5-minute measurements only
    slot_rows: dict[str, list[Row]] = {sid: [] for sid in ids}
    call_rows: dict[str, list[Row]] = {sid: [] for sid in ids}
    if ids:
        for row in await conn.fetch(queries.SLOT_BUCKETS, ids, end - LOOKBACK, end):
            slot_rows[row["service_id"]].append(row)
        for row in await conn.fetch(queries.CALL_BUCKETS, ids, end - LOOKBACK, end):
            call_rows[row["service_id"]].append(row)
    return {sid: measurements(slot_rows[sid], call_rows[sid]) for sid in ids}


async def evaluate_many(
    conn: asyncpg.Connection,
    services: list[asyncpg.Record],
    now: datetime,
    *,
    rules: set[str],
    burns: set[str],
    windows: Mapping[str, Windows] | None = None,
    verdicts: dict[str, dict[str, Verdict | None]] | None = None,
) -> dict[str, list[Change]]:
    """evaluate() of every service: the violation rules of those in `rules`, the burn-rate alerts of
    those in `burns` (`windows`: their burn windows at `now`, `verdicts`: per service of `rules` and
    rule, alerts.judge over its measurements, when the caller has them: app/slo/tally.py). The data
    is read for all of them at once; the open violations under their locks, in one transaction."""
    evaluated = [s for s in services if s["id"] in rules or s["id"] in burns]
    changes: dict[str, list[Change]] = {s["id"]: [] for s in services}
    if not evaluated:
        return changes
    if verdicts is None:
        judged = [s for s in evaluated if s["id"] in rules]
        series = await measurements_many(conn, [s["id"] for s in judged], now)
        verdicts = {
            s["id"]: {rule.slo: alerts.judge(rule, series[s["id"]][rule.slo]) for rule in service_rules(s)}
            for s in judged
        }
    if windows is None:
        windows = await burn_windows_many(conn, [s for s in evaluated if s["id"] in burns], now)
    ids = [s["id"] for s in evaluated]
    async with conn.transaction():
        await conn.execute(queries.LOCK_SERVICES, ids)
        current: dict[str, dict[str, asyncpg.Record]] = {sid: {} for sid in ids}
        for row in await conn.fetch(queries.OPEN_OF_SERVICES, ids):
            current[row["service_id"]][row["slo"]] = row
        for service in evaluated:
            sid = service["id"]
            if sid in rules:
                changes[sid] += await _apply_rules(conn, service, verdicts[sid], current[sid])
            if sid in burns:
                changes[sid] += await _apply_burns(conn, service, windows[sid], current[sid], now)
    return changes


def service_rules(service: asyncpg.Record) -> list[Rule]:
    """The violation rules of the service's SLOs (its tier's)."""
    return alerts.rules(objectives(TIERS[service["tier"]]))


async def _apply_rules(
    conn: asyncpg.Connection,
    service: asyncpg.Record,
    verdicts: dict[str, Verdict | None],
    current: dict[str, asyncpg.Record],
) -> list[Change]:
    changes: list[Change] = []
    for rule in service_rules(service):
        change = await _apply_rule(conn, service["id"], rule, verdicts[rule.slo], current.get(rule.slo))
        changes += [change] if change else []
    return changes


async def _apply_burns(
    conn: asyncpg.Connection,
    service: asyncpg.Record,
    windows: Windows,
    current: dict[str, asyncpg.Record],
    now: datetime,
) -> list[Change]:
    availability = next(o for o in objectives(TIERS[service["tier"]]) if o.slo == "availability")
    changes: list[Change] = []
    for slo, alert, severity in BURN_ALERTS:
        change = await _apply_burn(
            conn, service["id"], slo, alert, severity, windows, availability.target_percent, current.get(slo), now
        )
        changes += [change] if change else []
    return changes


async def close_inactive(conn: asyncpg.Connection) -> list[Change]:
    """End the open violations of services that left the catalog (they are evaluated no more)."""
    return [Change("closed", dict(r)) for r in await conn.fetch(queries.CLOSE_INACTIVE)]
