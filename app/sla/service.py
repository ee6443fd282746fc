"""SLA figures per docs/sla-math.md: availability, daily status, response times, usage, incident stats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from app.formatting import format_duration, round_half_up, rounded_percentage, truncated_percentage, utc_iso
from app.periods import Period, local_date
from app.rollups import service as rollups
from app.sla import days, queries
from app.sla.models import (
    AvailabilityMetrics,
    AvailabilityReport,
    CountShare,
    DailyUsage,
    IncidentStatsReport,
    IncidentStatsRow,
    IncidentSummary,
    Percentiles,
    ResponseTimeMetrics,
    ResponseTimesReport,
    ServiceRef,
    UsageMetrics,
    UsageReport,
)
from app.sla.tiers import TIERS


@dataclass
class CheckFigures:
    """Judged slots of a day or period: maintenance slots already taken out."""

    slots: int = 0
    ok_slots: int = 0
    failed_slots: int = 0
    downtime_s: int = 0
    maintenance_slots: int = 0
    expected: float = 0.0

    @property
    def uptime(self) -> Decimal | None:
        return truncated_percentage(self.ok_slots, self.slots)

    @property
    def coverage(self) -> float | None:
        return None if self.expected <= 0 else self.slots / self.expected


@dataclass
class DayRecord:
    day: date
    checks: CheckFigures
    incident_priorities: frozenset[str] = frozenset()
    incident_ids: tuple[str, ...] = ()


async def check_days(
    conn: asyncpg.Connection, services: list[asyncpg.Record], period: Period, now: datetime, timezone_name: str
) -> dict[str, list[DayRecord]]:
    """Per service, one record per day of the period: judged checks, expectation, incidents."""
    result: dict[str, list[DayRecord]] = {}
    period_days = period.days()
    for sid, d in (await days.read(conn, services, period, now, timezone_name)).items():
        result[sid] = [
            DayRecord(
                day,
                CheckFigures(
                    d.slots[i], d.ok_slots[i], d.failed_slots[i], d.downtime_s[i], d.maintenance_slots[i], d.expected[i]
                ),
                d.priorities(i),
                d.incident_ids(i),
            )
            for i, day in enumerate(period_days)
        ]
    return result


def total(records: list[DayRecord]) -> CheckFigures:
    """The figures of the days together (one pass: the status page sums 50 × 90 days per request)."""
    slots = ok_slots = failed_slots = downtime_s = maintenance_slots = 0
    expected = 0.0
    for record in records:
        checks = record.checks
        slots += checks.slots
        ok_slots += checks.ok_slots
        failed_slots += checks.failed_slots
        downtime_s += checks.downtime_s
        maintenance_slots += checks.maintenance_slots
        expected += checks.expected
    return CheckFigures(slots, ok_slots, failed_slots, downtime_s, maintenance_slots, expected)


def day_status(record: DayRecord, tier: str) -> str:
    """nd / e / mo / po / o for one day, in the order of docs/sla-math.md."""
    checks = record.checks
    return day_code(
        checks.slots,
        checks.ok_slots,
        checks.maintenance_slots,
        checks.expected,
        record.incident_priorities,
        TIERS[tier].availability.as_integer_ratio(),
    )


def day_code(
    slots: int,
    ok_slots: int,
    maintenance_slots: int,
    expected: float,
    priorities: frozenset[str],
    target: tuple[int, int],
) -> str:
    """day_status from the day's figures; `target` is the tier's availability (%) as an exact ratio
    (numerator, denominator), so the comparison stays in integers (4,500 days per status read)."""
    if slots == 0 and maintenance_slots == 0:
        return "nd"
    if expected > 0 and slots < 0.9 * expected:
        return "e"
    if (slots and ok_slots * 100 < 95 * slots) or "P1" in priorities:
        return "mo"
    if (slots and ok_slots * 100 * target[1] < target[0] * slots) or (priorities and priorities & {"P2", "P3"}):
        return "po"
    return "o"


def availability_metrics(figures: CheckFigures) -> AvailabilityMetrics:
    uptime = figures.uptime
    return AvailabilityMetrics(
        total_checks=figures.slots,
        successful_checks=figures.ok_slots,
        failed_checks=figures.failed_slots,
        uptime_percentage=None if uptime is None else float(uptime),
        total_downtime=format_duration(figures.downtime_s),
        downtime_minutes=round(figures.downtime_s / 60, 2),
        expected_checks=int(figures.expected),
        coverage=None if figures.coverage is None else round(figures.coverage, 4),
        maintenance_checks=figures.maintenance_slots,
    )


def service_ref(service: asyncpg.Record) -> ServiceRef:
    return ServiceRef(id=service["id"], name=service["name"])


async def availability(
    conn: asyncpg.Connection, service: asyncpg.Record, period: Period, now: datetime, timezone_name: str
) -> AvailabilityReport:
    records = (await check_days(conn, [service], period, now, timezone_name))[service["id"]]
    return AvailabilityReport(
        service=service_ref(service),
        period=period.label,
        partial=period.is_partial(now),
        metrics=availability_metrics(total(records)),
    )


def _share(count: int, whole: int) -> CountShare:
    return CountShare(count=count, percentage=rounded_percentage(count, whole))


# A service without calls in the period: what RESPONSE_TIMES_MANY's figures are for no rows.
NO_CALLS: dict[str, Any] = {
    "total": 0,
    "mean": None,
    "slow300": 0,
    "slow500": 0,
    "over_target": 0,
    "p50": None,
    "p95": None,
    "p99": None,
}


async def response_times(
    conn: asyncpg.Connection, service: asyncpg.Record, period: Period, now: datetime
) -> ResponseTimesReport:
    return (await response_times_many(conn, [service], period, now))[service["id"]]


async def response_times_many(
    conn: asyncpg.Connection, services: list[asyncpg.Record], period: Period, now: datetime
) -> dict[str, ResponseTimesReport]:
    """response_times of every service, in one statement for all of them (the month close's)."""
    rows = await conn.fetch(
        queries.RESPONSE_TIMES_MANY,
        [s["id"] for s in services],
        period.start,
        period.end,
        [s["latency_target_ms"] for s in services],
    )
    by_id = {r["service_id"]: r for r in rows}
    return {s["id"]: _response_times(s, period, now, by_id.get(s["id"], NO_CALLS)) for s in services}


def _response_times(
    service: asyncpg.Record, period: Period, now: datetime, row: Mapping[str, Any] | asyncpg.Record
) -> ResponseTimesReport:
    n = row["total"]
    avg = None if row["mean"] is None else round_half_up(row["mean"])
    return ResponseTimesReport(
        service=service_ref(service),
        period=period.label,
        partial=period.is_partial(now),
        avg_response_time=avg,
        target_threshold=service["latency_target_ms"],
        metrics=ResponseTimeMetrics(
            total_requests=n,
            avg_response_time=avg,
            slow_requests300=_share(row["slow300"], n),
            slow_requests500=_share(row["slow500"], n),
            timeout_requests=_share(row["over_target"], n),
            percentiles=Percentiles(p50=row["p50"], p95=row["p95"], p99=row["p99"]),
        ),
    )


async def usage(
    conn: asyncpg.Connection, service: asyncpg.Record, period: Period, now: datetime, timezone_name: str
) -> UsageReport:
    return (await usage_many(conn, [service], period, now, timezone_name))[service["id"]]


async def usage_many(
    conn: asyncpg.Connection, services: list[asyncpg.Record], period: Period, now: datetime, timezone_name: str
) -> dict[str, UsageReport]:
    """usage of every service, from one read of the daily rollup."""
    rows = await rollups.read(
        conn, rollups.USAGE_DAILY, timezone_name, [s["id"] for s in services], period.start, period.end
    )
    by_service: dict[str, list[asyncpg.Record]] = {s["id"]: [] for s in services}
    for r in rows:
        by_service[r["service_id"]].append(r)
    return {s["id"]: _usage(s, period, now, by_service[s["id"]]) for s in services}


def _usage(service: asyncpg.Record, period: Period, now: datetime, rows: list[asyncpg.Record]) -> UsageReport:
    by_day = {local_date(r["bucket"], period.zone): r for r in rows}
    today = local_date(now, period.zone)
    daily = []
    for day in period.days():
        if day > today:
            break
        r = by_day.get(day)
        daily.append(
            DailyUsage(
                date=day.isoformat(),
                total=r["calls"] if r else 0,
                success=r["ok_200"] if r else 0,
                errors=r["errors"] if r else 0,
            )
        )
    calls = sum(r["calls"] for r in rows)
    errors = sum(r["errors"] for r in rows)
    return UsageReport(
        service=service_ref(service),
        period=period.label,
        partial=period.is_partial(now),
        metrics=UsageMetrics(
            total_calls=calls,
            successful_calls=sum(r["ok_200"] for r in rows),
            error_calls=errors,
            error_rate=rounded_percentage(errors, calls),
            client_errors=sum(r["c4xx"] for r in rows),
            server_errors=sum(r["c5xx"] for r in rows),
            daily_stats=daily,
        ),
    )


async def incident_stats(
    conn: asyncpg.Connection, period: Period, now: datetime, service_id: str | None
) -> IncidentStatsReport:
    if service_id is not None:
        return (await incident_stats_many(conn, period, now, [service_id]))[service_id]
    return _incident_stats(period, now, await conn.fetch(queries.INCIDENTS_CREATED_IN, period.start, period.end))


async def incident_stats_many(
    conn: asyncpg.Connection, period: Period, now: datetime, service_ids: list[str]
) -> dict[str, IncidentStatsReport]:
    """incident_stats of each service, from one read of the incidents affecting any of them."""
    mine: dict[str, list[asyncpg.Record]] = {sid: [] for sid in service_ids}
    for r in await conn.fetch(queries.INCIDENTS_CREATED_IN_ANY, period.start, period.end, service_ids):
        for sid in dict.fromkeys(r["affected_services"]):
            if sid in mine:
                mine[sid].append(r)
    return {sid: _incident_stats(period, now, rows) for sid, rows in mine.items()}


def _resolution_seconds(row: asyncpg.Record) -> float | None:
    return None if row["resolved_at"] is None else (row["resolved_at"] - row["created_at"]).total_seconds()


def _incident_row(row: asyncpg.Record) -> IncidentStatsRow:
    seconds = _resolution_seconds(row)
    return IncidentStatsRow(
        id=row["id"],
        priority=row["priority"],
        title=row["title"],
        reporter=row["reporter"],
        detection_criteria=row["detection_criteria"],
        created_at=utc_iso(row["created_at"]),
        resolved_at=utc_iso(row["resolved_at"]),
        resolution_time=None if seconds is None else format_duration(seconds),
    )


def _incident_stats(period: Period, now: datetime, rows: list[asyncpg.Record]) -> IncidentStatsReport:
    resolved = [s for s in map(_resolution_seconds, rows) if s is not None]
    counts = {p: sum(1 for r in rows if r["priority"] == p) for p in ("P1", "P2", "P3")}
    return IncidentStatsReport(
        period=period.label,
        partial=period.is_partial(now),
        summary=IncidentSummary(
            total_incidents=len(rows),
            p1_count=counts["P1"],
            p2_count=counts["P2"],
            p3_count=counts["P3"],
            avg_resolution_time=format_duration(sum(resolved) / len(resolved)) if resolved else None,
        ),
        incidents=[_incident_row(r) for r in rows],
    )
