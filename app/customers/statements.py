"""A customer's monthly statement: one document per customer and month over every covered service,
composed of the services' monthly reports (app/reports/service.py: a closed month's frozen revision,
the running month live) and the customer's credit (app/customers/credits.py). Frozen at month close
(revision 1) like the per-service reports, revisable with a reason and an author (revision N+1,
audited). docs/sla-math.md (Customers) defines every figure."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import asyncpg

from app.audit import service as audit
from app.auth.service import Principal
from app.contract import JsonObject
from app.customers import queries
from app.customers.credits import CREDIT_CAP_PERCENT, ServicePart, customer_credit, violation_seconds
from app.customers.models import QuotaUse, StatementRevisionCreated, minor_unit
from app.customers.service import decimal_text
from app.errors import ApiError
from app.formatting import format_duration, utc_iso
from app.periods import Period, add_months
from app.reports import service as reports
from app.reports.figures import number, period_of
from app.reports.models import RevisionRead
from app.rollups import service as rollups
from app.sla.tiers import TIERS
from app.slo import forecast, forecast_service
from app.slo.definitions import forecast as definition_forecast

log = logging.getLogger(__name__)
STATEMENT_STORE = reports.RevisionStore(
    queries.LOCK_STATEMENT,
    queries.UNLOCK_STATEMENT,
    queries.STATEMENT_NEXT_REVISION,
    queries.STATEMENT_INSERT_REVISION,
    "statement.revised",
    "customer",
)
# How a statement reads one service's monthly report (connection, service row, month, now, zone name):
# reports.get (a closed month's frozen revision, else live), or longer.py's always-live reader.
ReportReader = Callable[[asyncpg.Connection, asyncpg.Record, Period, datetime, str], Awaitable[JsonObject]]
# Bump when the document's shape changes; frozen statements keep theirs. 2: usage against the daily quota.
# 3: the running month's SLO forecast (`forecast`, null once the month is over).
STATEMENT_VERSION = 3


def _objective_counts(objectives: list[JsonObject]) -> JsonObject:
    return {
        "met": sum(1 for o in objectives if o["met"] is True),
        "missed": sum(1 for o in objectives if o["met"] is False),
        "notJudged": sum(1 for o in objectives if o["met"] is None),
    }


def quota_use(daily: Sequence[tuple[str, int]], daily_requests: int | None) -> QuotaUse:
    """A service's calls per day of the period ((YYYY-MM-DD, calls), days in the reporting zone) against
    the tier's daily request quota (docs/sla-math.md, Customers): the busiest day (the earliest of
    equals), its share of the quota (half-up, 2 decimals) and the days above the quota (calls > quota).
    Unlimited (Enterprise Plus): no share, no days above."""
    busiest = max(daily, key=lambda d: d[1], default=None)  # max keeps the first of equals
    if busiest is not None and busiest[1] == 0:
        busiest = None
    over = [] if daily_requests is None else [day for day, calls in daily if calls > daily_requests]
    share = None
    if busiest is not None and daily_requests is not None:
        share = number((Decimal(busiest[1]) * 100 / daily_requests).quantize(Decimal("0.01"), ROUND_HALF_UP))
    return QuotaUse(
        daily_requests=daily_requests,
        peak_day=busiest[0] if busiest else None,
        peak_requests=busiest[1] if busiest else 0,
        peak_percent_of_quota=share,
        days_over_quota=len(over),
        dates_over_quota=over,
    )


def _service_section(doc: JsonObject, seconds_in_violation: int, daily_requests: int | None) -> JsonObject:
    """The covered service's figures exactly as its monthly report states them, and its calls against
    the tier's daily quota."""
    meta = doc["report"]
    a, rt, u = doc["availability"], doc["responseTimes"], doc["usage"]
    objectives = doc["slo"]["objectives"]
    return {
        "id": doc["service"]["id"],
        "name": doc["service"]["name"],
        "report": {"status": meta["status"], "revision": meta["revision"]},
        "availability": {k: v for k, v in a.items() if k != "daily"},
        "responseTimes": {
            "totalRequests": rt["totalRequests"],
            "avgResponseTime": rt["avgResponseTime"],
            "percentiles": rt["percentiles"],
        },
        "usage": {k: v for k, v in u.items() if k != "dailyStats"},
        "quota": quota_use([(d["date"], d["total"]) for d in u["dailyStats"]], daily_requests).model_dump(),
        "incidents": doc["incidents"]["summary"],
        "slo": {"objectives": objectives, **_objective_counts(objectives)},
        "violations": doc["slo"]["violations"],
        "violationMinutes": seconds_in_violation // 60,
    }


async def _target(
    conn: asyncpg.Connection, customer: asyncpg.Record, period: Period, cut: datetime
) -> tuple[Decimal, list[JsonObject]]:
    """The period's availability target: the lowest effective override overlapping it, else the tier's."""
    tier = TIERS[customer["tier"]]
    rows = await conn.fetch(queries.EFFECTIVE_OVERRIDES_IN, customer["id"], period.start, period.end)
    applied = [
        {
            "availability": number(r["availability"]),
            "startsAt": utc_iso(r["starts_at"]),
            "endsAt": utc_iso(r["ends_at"]),
            "announcedAt": utc_iso(r["announced_at"]),
            "reason": r["reason"],
        }
        for r in rows
    ]
    return (min(Decimal(rows[0]["availability"]), tier.availability) if rows else tier.availability), applied


async def compute(
    conn: asyncpg.Connection,
    customer: asyncpg.Record,
    period: Period,
    now: datetime,
    timezone_name: str,
    read: ReportReader = reports.get,
) -> JsonObject:
    """Every figure of the customer's month as JSON data, from its services' monthly reports (`read`:
    how a service's document for the period is read; app/customers/longer.py reads longer periods live)."""
    tier = TIERS[customer["tier"]]
    cut = min(now, period.end)
    services = await conn.fetch(queries.COVERED_SERVICES, customer["id"])
    sections: list[JsonObject] = []
    parts: list[tuple[str, ServicePart]] = []
    incidents: dict[str, JsonObject] = {}
    for svc in services:
        doc = await read(conn, svc, period, now, timezone_name)
        seconds = violation_seconds(doc["slo"]["violations"], period.start, cut)
        sections.append(_service_section(doc, seconds, tier.daily_requests))
        a = doc["availability"]
        parts.append(
            (
                svc["id"],
                ServicePart(
                    a["successfulChecks"], a["totalChecks"], doc["responseTimes"]["percentiles"]["p95"], seconds
                ),
            )
        )
        for incident in doc["incidents"]["incidents"]:
            incidents.setdefault(incident["id"], {**incident, "services": []})["services"].append(svc["id"])
    target, overrides = await _target(conn, customer, period, cut)
    fee = Decimal(customer["monthly_fee"])
    result = customer_credit(tier, target, fee, customer["currency"], parts)
    downtime_s = sum(int(Decimal(str(s["availability"]["downtimeMinutes"])) * 60) for s in sections)
    objectives = [o for s in sections for o in s["slo"]["objectives"]]
    listed = sorted(incidents.values(), key=lambda i: (i["createdAt"], i["id"]))
    next_month = add_months(period.first_day, 1)
    outlook = await forecast_section(conn, services, period, now, timezone_name)
    return {
        "version": STATEMENT_VERSION,
        "customer": {
            "id": customer["id"],
            "name": customer["name"],
            "tier": tier.name,
            "tierLabel": tier.label,
            "currency": customer["currency"],
            "monthlyFee": decimal_text(fee),
            "startsOn": customer["starts_on"].isoformat(),
        },
        "period": period_of(period.label, period),
        "summary": {
            "availabilityPercent": number(result.availability),
            "targetPercent": number(target),
            "targetSource": "override" if target != tier.availability else "tier",
            "targetMet": None if result.availability is None else result.availability >= target,
            "totalChecks": sum(p.slots for _, p in parts),
            "successfulChecks": sum(p.successful_slots for _, p in parts),
            "failedChecks": sum(s["availability"]["failedChecks"] for s in sections),
            "downtimeMinutes": number(Decimal(downtime_s) / 60),
            "totalDowntime": format_duration(downtime_s),
            "totalRequests": sum(s["responseTimes"]["totalRequests"] for s in sections),
            "totalIncidents": len(listed),
            "dailyRequestQuota": tier.daily_requests,
            "servicesOverQuota": sum(1 for s in sections if s["quota"]["daysOverQuota"]),
            "objectives": _objective_counts(objectives),
        },
        "overrides": overrides,
        "services": sections,
        "incidents": [
            {k: i[k] for k in ("id", "priority", "title", "createdAt", "resolvedAt", "resolutionTime", "services")}
            for i in listed
        ],
        "credits": {
            "availabilityPercent": result.credit.availability_percent,
            "latencyPercent": result.credit.latency_percent,
            "longViolationPercent": result.credit.long_violation_percent,
            "totalPercent": result.credit.total_percent,
            "capPercent": CREDIT_CAP_PERCENT,
            "p95TargetMs": tier.p95_ms,
            "slowServices": list(result.slow_services),
            "longViolationServices": list(result.long_violation_services),
            "monthlyFee": decimal_text(fee),
            "currency": customer["currency"],
            "minorUnit": minor_unit(customer["currency"]),
            "amount": str(result.amount),
            "rounding": "half-up to the currency's minor unit",
            "deductFrom": f"{next_month.year:04d}-{next_month.month:02d}",
        },
        "forecast": outlook,
    }


def _is_running_month(period: Period, now: datetime) -> bool:
    return (
        period.first_day.day == 1
        and period.end_day == add_months(period.first_day, 1)
        and period.start <= now < period.end
    )


async def forecast_section(
    conn: asyncpg.Connection, services: list[asyncpg.Record], period: Period, now: datetime, timezone_name: str
) -> JsonObject | None:
    """The running month's SLO forecasts of the covered services (docs/sla-math.md "Forecasts"): per
    service and SLO (its tier's, then the stored SLO definitions covering it), the budget, when it runs
    out at the month's (a definition's: its window's) and the last 7 days' burn, and the probability of
    missing the target. None for any other period: a closed month has no forecast (its
    outcome is in the figures), and a frozen statement never carries one."""
    if not _is_running_month(period, now) or not services:
        return None
    found = await forecast_service.forecasts(
        conn, list(services), now, timezone_name, period.zone, forecast_service.Settings()
    )
    keep = ("slo", "name", "unit", "budget", "consumed", "remaining", "missProbability")
    definitions = await definition_forecast.by_service(
        conn, list(services), now, period.zone, forecast_service.Settings()
    )
    return {
        "asOf": utc_iso(now),
        "method": "bootstrap",
        "simulations": forecast.SIMULATIONS,
        "services": [
            {
                "id": svc["id"],
                "name": svc["name"],
                "slos": [
                    {
                        **{k: number(s[k]) if isinstance(s[k], Decimal) else s[k] for k in keep},
                        "exhaustsAtCurrentBurn": s["currentBurn"]["exhaustsAt"],
                        "exhaustsAtRecentBurn": s["recentBurn"]["exhaustsAt"],
                        "exhausted": s["currentBurn"]["exhausted"],
                    }
                    for s in found[svc["id"]]["slos"]
                ]
                + [
                    {
                        # a stored SLO definition covering the service: its window in the name; a rolling
                        # window's chance to miss is 24 h ahead (docs/sla-math.md "Forecasts of SLO definitions")
                        "slo": d["definition"],
                        "name": f"{d['displayName']} ({d['window']})",
                        **{k: number(d[k]) if isinstance(d[k], Decimal) else d[k] for k in keep[2:]},
                        "exhaustsAtCurrentBurn": d["currentBurn"]["exhaustsAt"],
                        "exhaustsAtRecentBurn": d["recentBurn"]["exhaustsAt"],
                        "exhausted": d["currentBurn"]["exhausted"],
                        "definition": d["definition"],
                        "window": d["window"],
                        "missAt": d["forecastEnd"],
                    }
                    for d in definitions[svc["id"]]
                ],
            }
            for svc in services
        ],
    }


def check_contract(customer: asyncpg.Record, period: Period) -> None:
    if customer["starts_on"] >= period.end_day:
        raise ApiError(
            409,
            "conflict",
            f"customer {customer['id']!r}'s contract starts on {customer['starts_on'].isoformat()}, "
            f"after {period.label}: no statement",
        )


async def revisions(conn: asyncpg.Connection, customer_id: str, period: Period) -> list[RevisionRead]:
    return [
        reports.revision_meta(r) for r in await conn.fetch(queries.STATEMENT_REVISIONS, customer_id, period.first_day)
    ]


async def get(
    conn: asyncpg.Connection,
    customer: asyncpg.Record,
    period: Period,
    now: datetime,
    timezone_name: str,
    revision: int | None = None,
) -> JsonObject:
    """The statement: a closed month's latest (or given) revision, else live and provisional."""
    if revision is not None:
        row = await conn.fetchrow(queries.STATEMENT_REVISION, customer["id"], period.first_day, revision)
        if row is None:
            raise reports.no_such_revision(f"statement {customer['id']} {period.label}", revision)
    else:
        row = await conn.fetchrow(queries.STATEMENT_LATEST, customer["id"], period.first_day)
    if row is not None:
        history = await revisions(conn, customer["id"], period)
        return {
            "statement": reports.final_meta("customerId", customer["id"], period, row, history),
            **json.loads(row["figures"]),
        }
    check_contract(customer, period)
    live = await rollups.in_snapshot(conn, lambda: compute(conn, customer, period, now, timezone_name))
    return {"statement": reports.provisional_meta("customerId", customer["id"], period, now), **live}


def _dump(figures: JsonObject) -> str:
    return json.dumps(figures, ensure_ascii=False, separators=(",", ":"))


async def close_month(conn: asyncpg.Connection, period: Period, now: datetime, timezone_name: str) -> list[str]:
    """Freeze revision 1 of every customer's statement for an ended month (after its services' reports
    were frozen: the statement composes them); return the customers written."""
    closed = {r["customer_id"] for r in await conn.fetch(queries.STATEMENT_CLOSED, period.first_day)}
    written = []
    for customer in await conn.fetch(queries.LIST):
        if customer["id"] in closed or customer["starts_on"] >= period.end_day:
            continue
        freeze = functools.partial(_freeze_first, conn, customer, period, now, timezone_name)
        if await rollups.in_snapshot(conn, freeze):
            written.append(customer["id"])
    if written:
        log.info(
            "statements of %s frozen for %d customer(s)", period.label, len(written), extra={"job": "close_months"}
        )
    return written


async def _freeze_first(
    conn: asyncpg.Connection, customer: asyncpg.Record, period: Period, now: datetime, timezone_name: str
) -> bool:
    figures = await compute(conn, customer, period, now, timezone_name)
    row = await conn.fetchrow(
        queries.STATEMENT_INSERT_FIRST, customer["id"], period.first_day, timezone_name, _dump(figures)
    )
    if row is None:
        return False  # another worker closed it first
    await audit.record(
        conn,
        "statement.closed",
        actor_name="month close",
        target_type="customer",
        target_id=f"{customer['id']}/{period.label}",
        details={"revision": 1},
    )
    return True


async def revise(
    conn: asyncpg.Connection,
    customer: asyncpg.Record,
    period: Period,
    now: datetime,
    timezone_name: str,
    reason: str,
    author: str,
    actor: Principal | None = None,
) -> StatementRevisionCreated:
    """Compose the month again from its services' reports as they are now (their latest revisions) and
    the contract as it is now, and append revision N+1 (audited)."""
    label = f"{customer['id']} {period.label}"
    reports.check_ended(label, period, now, "statement")
    reason = reports.required_reason(reason)
    row = await reports.append_revision(
        conn,
        STATEMENT_STORE,
        customer["id"],
        period,
        timezone_name,
        lambda: compute(conn, customer, period, now, timezone_name),
        reason,
        author,
        actor,
    )
    return StatementRevisionCreated(
        customer_id=customer["id"],
        month=period.label,
        revision=row["revision"],
        frozen_at=utc_iso(row["created_at"]),
        reason=reason,
        author=author,
    )
