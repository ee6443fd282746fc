"""A service's monthly report figures, computed with the SLA readers (app/sla, app/slo) so that every
number equals what /api/sla/* answers for the same month. The result is plain JSON data: the month
close freezes it as it is, and every format is rendered from it alone."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg
from pydantic import BaseModel

from app.contract import JsonObject
from app.formatting import format_duration, utc_iso
from app.periods import Period, local_date
from app.reports import queries
from app.sla import service as sla
from app.sla.models import AvailabilityMetrics, IncidentStatsReport, ResponseTimesReport, UsageMetrics
from app.sla.tiers import TIERS, Tier
from app.slo.budget import CREDIT_CAP_PERCENT, budget, service_credit
from app.slo.definitions import engine as definitions
from app.slo.definitions import store as definition_store

FIGURES_VERSION = 3  # bump when the document's shape changes; old snapshots keep theirs (2: byPriority,
# 3: violations of SLO definitions, with `definition`; their month's figures, `slo.definitions`)


def number(value: Decimal | float | int | None) -> int | float | None:
    """An exact decimal as a JSON number: an int when whole, else the float with the same digits."""
    if value is None:
        return None
    value = Decimal(str(value)) if not isinstance(value, Decimal) else value
    return int(value) if value == value.to_integral_value() else float(value)


def _quantized(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _share(part: int, whole: int) -> Decimal | None:
    """part / whole x 100, exact (4 decimals, half-up): error-rate targets go down to 0.005 %."""
    return None if whole <= 0 else _quantized(Decimal(part) * 100 / Decimal(whole), "0.0001")


def period_of(month_label: str, period: Period) -> JsonObject:
    minutes = period.minutes
    return {
        "label": month_label,
        "start": utc_iso(period.start_local),
        "end": utc_iso(period.end_local),
        "timezone": period.zone.key,
        "days": len(period.days()),
        "minutes": number(minutes),
    }


def _daily_availability(records: list[sla.DayRecord], tier: str, today: date) -> list[JsonObject]:
    rows = []
    for record in records:
        if record.day > today:
            break
        checks = record.checks
        rows.append(
            {
                "date": record.day.isoformat(),
                "totalChecks": checks.slots,
                "successfulChecks": checks.ok_slots,
                "failedChecks": checks.failed_slots,
                "uptimePercentage": number(checks.uptime),
                "downtimeMinutes": number(Decimal(checks.downtime_s) / 60),
                "maintenanceChecks": checks.maintenance_slots,
                "status": sla.day_status(record, tier),
            }
        )
    return rows


def _daily_latency(rows: list[asyncpg.Record], period: Period, today: date) -> list[JsonObject]:
    by_day = {r["day"]: r for r in rows}
    daily = []
    for day in period.days():
        if day > today:
            break
        r = by_day.get(day)
        daily.append(
            {
                "date": day.isoformat(),
                "totalRequests": r["calls"] if r else 0,
                "p50": r["p50"] if r else None,
                "p95": r["p95"] if r else None,
                "p99": r["p99"] if r else None,
            }
        )
    return daily


def objectives(
    tier: Tier, availability: AvailabilityMetrics, response: ResponseTimesReport, usage: UsageMetrics
) -> list[JsonObject]:
    """The tier's SLOs (seeds/002) against the month: met is None when there is nothing to judge."""
    uptime = availability.uptime_percentage
    percentiles = response.metrics.percentiles
    calls, c4xx, c5xx = usage.total_calls, usage.client_errors, usage.server_errors
    rows = [
        {
            "id": "availability",
            "unit": "%",
            "comparison": ">=",
            "target": number(tier.availability),
            "actual": uptime,
            "met": None if uptime is None else Decimal(str(uptime)) >= tier.availability,
        }
    ]
    for name, target, actual in (
        ("p50", tier.p50_ms, percentiles.p50),
        ("p95", tier.p95_ms, percentiles.p95),
        ("p99", tier.p99_ms, percentiles.p99),
    ):
        rows.append(
            {
                "id": f"latency_{name}",
                "unit": "ms",
                "comparison": "<",
                "target": target,
                "actual": actual,
                "met": None if actual is None else actual < target,
            }
        )
    for name, errors, limit in (
        ("error_rate", c4xx + c5xx, tier.error_rate),
        ("error_rate_5xx", c5xx, tier.error_rate_5xx),
        ("error_rate_4xx", c4xx, Decimal(5)),
    ):
        rows.append(
            {
                "id": name,
                "unit": "%",
                "comparison": "<",
                "target": number(limit),
                "actual": number(_share(errors, calls)),
                "met": None if calls == 0 else Decimal(errors) * 100 < limit * calls,
            }
        )
    return rows


def _violations(rows: list[asyncpg.Record], cut: datetime) -> tuple[list[JsonObject], Decimal]:
    """Violations overlapping the month with their whole duration (an open one counted up to `cut`)."""
    listed, longest_s = [], 0
    for r in rows:
        end = r["ended_at"] or cut
        seconds = max(0, int((end - r["started_at"]).total_seconds()))
        longest_s = max(longest_s, seconds)
        listed.append(
            {
                "id": r["id"],
                "definition": r["definition"],  # None: a tier SLO's (slo_violations)
                "slo": r["slo"],
                "severity": r["severity"],
                "startedAt": utc_iso(r["started_at"]),
                "endedAt": utc_iso(r["ended_at"]),
                "durationMinutes": seconds // 60,
                "duration": format_duration(seconds),
                "threshold": number(r["threshold"]),
                "worstValue": number(r["worst_value"]),
            }
        )
    return listed, Decimal(longest_s) / 3600


def _mean_seconds(durations: list[float]) -> Decimal | None:
    """The mean of durations in seconds, exact to the millisecond (half-up)."""
    if not durations:
        return None
    total_us = sum(round(d * 1_000_000) for d in durations)
    return _quantized(Decimal(total_us) / len(durations) / 1_000_000, "0.001")


def response_by_priority(rows: list[asyncpg.Record]) -> JsonObject:
    """Per priority: incidents, how many were acknowledged / resolved, and the mean time from the
    incident's start to its first acknowledgement (MTTA) and to its resolution (MTTR)."""
    result = {}
    for priority in ("P1", "P2", "P3"):
        mine = [r for r in rows if r["priority"] == priority]
        to_ack = [(r["acknowledged_at"] - r["created_at"]).total_seconds() for r in mine if r["acknowledged_at"]]
        to_resolve = [(r["resolved_at"] - r["created_at"]).total_seconds() for r in mine if r["resolved_at"]]
        mtta, mttr = _mean_seconds(to_ack), _mean_seconds(to_resolve)
        result[priority] = {
            "incidents": len(mine),
            "acknowledged": len(to_ack),
            "meanTimeToAcknowledgeSeconds": number(mtta),
            "meanTimeToAcknowledge": format_duration(float(mtta)) if mtta is not None else None,
            "resolved": len(to_resolve),
            "meanTimeToResolveSeconds": number(mttr),
            "meanTimeToResolve": format_duration(float(mttr)) if mttr is not None else None,
        }
    return result


async def compute(
    conn: asyncpg.Connection, service: asyncpg.Record, period: Period, now: datetime, timezone_name: str
) -> JsonObject:
    """Every figure of one service's month, as JSON data (docs/sla-math.md; credits per seeds/002)."""
    return (await compute_many(conn, [service], period, now, timezone_name))[service["id"]]


def _by_service(
    rows: list[asyncpg.Record], ids: list[str], column: str = "service_id"
) -> dict[str, list[asyncpg.Record]]:
    """Rows grouped by their service (in the rows' order), an empty list for a service without any."""
    grouped: dict[str, list[asyncpg.Record]] = {sid: [] for sid in ids}
    for r in rows:
        grouped[r[column]].append(r)
    return grouped


def _by_affected(rows: list[asyncpg.Record], ids: list[str]) -> dict[str, list[asyncpg.Record]]:
    """Rows grouped by each service they affect (in the rows' order)."""
    grouped: dict[str, list[asyncpg.Record]] = {sid: [] for sid in ids}
    for r in rows:
        for sid in dict.fromkeys(r["affected_services"]):
            if sid in grouped:
                grouped[sid].append(r)
    return grouped


async def compute_many(
    conn: asyncpg.Connection, services: list[asyncpg.Record], period: Period, now: datetime, timezone_name: str
) -> dict[str, JsonObject]:
    """compute() of every service, each input read once for all of them (a dozen statements in all,
    not per service: the month close's batches, docs/api.md "Month close"); the same figures as one
    by one."""
    ids = [s["id"] for s in services]
    cut = min(now, period.end)
    records = await sla.check_days(conn, services, period, now, timezone_name)
    responses = await sla.response_times_many(conn, services, period, now)
    usages = await sla.usage_many(conn, services, period, now, timezone_name)
    incidents = await sla.incident_stats_many(conn, period, now, ids)
    violations = _by_service(await conn.fetch(queries.VIOLATIONS_OVERLAPPING, ids, period.start, cut), ids)
    maintenance = _by_affected(await conn.fetch(queries.MAINTENANCE_OVERLAPPING, ids, period.start, period.end), ids)
    latency = _by_service(await conn.fetch(queries.DAILY_LATENCY, ids, period.start, period.end, period.zone.key), ids)
    response_rows = _by_affected(await conn.fetch(queries.INCIDENT_RESPONSE_IN, period.start, period.end, ids), ids)
    slo_definitions = await _definitions(conn, ids, period, now)
    found = {}
    for s in services:
        doc = _figures(
            s,
            period,
            now,
            records[s["id"]],
            responses[s["id"]],
            usages[s["id"]].metrics,
            incidents[s["id"]],
            violations[s["id"]],
            maintenance[s["id"]],
            latency[s["id"]],
            response_rows[s["id"]],
        )
        doc["slo"]["definitions"] = slo_definitions[s["id"]]
        found[s["id"]] = doc
    return found


async def _definitions(
    conn: asyncpg.Connection, ids: list[str], period: Period, now: datetime
) -> dict[str, list[JsonObject]]:
    """Per service of `ids`: every stored SLO definition covering it, its SLI over the month (not its
    own window: a report is of the month) — events, good and bad ones, the SLI, met, the error budget
    over the month, the percentile — as GET /api/slo-definitions/{name}/status computes them over a
    window (docs/sla-math.md "SLO definitions"). One statement per definition for all of `ids`."""
    found: dict[str, list[JsonObject]] = {sid: [] for sid in ids}
    for stored in await definition_store.list_definitions(conn):
        definition = stored.definition
        covered = [sid for sid in ids if not definition.services or sid in definition.services]
        window, counts = await definitions.period_figures(conn, definition, covered, period, now)
        for sid in covered:
            fig = counts[sid]
            spent = definitions.error_budget(definition, window, fig)
            found[sid].append(
                {
                    "name": definition.name,
                    "displayName": definition.display_name,
                    "window": definition.window.label,
                    "target": number(definition.target),
                    "op": definition.op,
                    "events": {
                        "unit": "slots" if definition.sli.source == "checks" else "calls",
                        "total": fig.events,
                        "good": fig.good,
                        "bad": fig.bad,
                    },
                    "sli": number(definitions.sli_percent(fig.good, fig.events)),
                    "met": definitions.met(definition, fig.good, fig.events),
                    "percentileMs": fig.percentile,
                    "errorBudget": {k: v if k == "unit" else number(v) for k, v in spent.items()},
                }
            )
    return found


def _figures(
    service: asyncpg.Record,
    period: Period,
    now: datetime,
    records: list[sla.DayRecord],
    response: ResponseTimesReport,
    usage: UsageMetrics,
    incidents: IncidentStatsReport,
    violation_rows: list[asyncpg.Record],
    maintenance_rows: list[asyncpg.Record],
    latency_rows: list[asyncpg.Record],
    response_rows: list[asyncpg.Record],
) -> JsonObject:
    tier = TIERS[service["tier"]]
    today = local_date(min(now, period.end), period.zone) if now < period.end else period.days()[-1]
    checks = sla.total(records)
    availability = sla.availability_metrics(checks)
    cut = min(now, period.end)
    violations, longest_hours = _violations(violation_rows, cut)

    p95 = response.metrics.percentiles.p95
    credit = service_credit(tier, checks.uptime, p95, longest_hours)
    minutes = period.minutes
    downtime_minutes = number(availability.downtime_minutes)
    error_budget = budget(tier.availability, minutes, Decimal(str(downtime_minutes)))
    consumed = error_budget.consumed_ratio
    return {
        "version": FIGURES_VERSION,
        "service": {
            "id": service["id"],
            "name": service["name"],
            "tier": tier.name,
            "tierLabel": tier.label,
            "intervalSeconds": service["interval_s"],
            "latencyTargetMs": service["latency_target_ms"],
        },
        "period": period_of(period.label, period),
        "availability": {
            **_section(availability),
            # as the figures always froze it: 15, not the API's 15.0
            "downtimeMinutes": downtime_minutes,
            "daily": _daily_availability(records, tier.name, today),
        },
        "maintenance": [
            {
                "title": r["title"],
                "startsAt": utc_iso(r["starts_at"]),
                "endsAt": utc_iso(r["ends_at"]),
                "announcedAt": utc_iso(r["announced_at"]),
                "excludedFromSla": r["excluded"],
                "reason": r["exclusion_reason"],
            }
            for r in maintenance_rows
        ],
        "responseTimes": {
            **_section(response.metrics),
            "targetThreshold": response.target_threshold,
            "daily": _daily_latency(latency_rows, period, today),
        },
        "usage": _section(usage),
        "incidents": {
            "summary": _section(incidents.summary),
            "incidents": [_section(row) for row in incidents.incidents],
            "byPriority": response_by_priority(response_rows),
        },
        "slo": {
            "tier": tier.name,
            "objectives": objectives(tier, availability, response, usage),
            "errorBudget": {
                "targetPercent": number(tier.availability),
                "totalMinutes": number(error_budget.total_minutes),
                "consumedMinutes": number(error_budget.consumed_minutes),
                "remainingMinutes": number(error_budget.remaining_minutes),
                "consumedPercent": None if consumed is None else number(_quantized(consumed * 100, "0.01")),
            },
            "violations": violations,
        },
        "credits": {
            "availabilityPercent": credit.availability_percent,
            "latencyPercent": credit.latency_percent,
            "longViolationPercent": credit.long_violation_percent,
            "totalPercent": credit.total_percent,
            "capPercent": CREDIT_CAP_PERCENT,
            "p95Ms": p95,
            "p95TargetMs": tier.p95_ms,
            "longestViolationMinutes": int(longest_hours * 60),
        },
    }


def _section(record: BaseModel) -> dict[str, Any]:
    """An SLA reader's record as the report's JSON section: what /api/sla/* answers, key for key."""
    return record.model_dump(by_alias=True)


def has_data(figures: JsonObject) -> bool:
    """Whether a month holds anything to report (checks, calls or incidents)."""
    return bool(
        figures["availability"]["totalChecks"]
        or figures["availability"]["maintenanceChecks"]
        or figures["usage"]["totalCalls"]
        or figures["incidents"]["summary"]["totalIncidents"]
    )
