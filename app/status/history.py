"""The 90-day grid's settled days, kept in memory between requests.

The days before yesterday change only when a write reaches them: an incident, a maintenance window or a
service (tier, interval) changes, or a late batch of checks lands and is refreshed into the rollups.
Each of those moves a generation number in the same transaction (sql/060_data_generations.sql, and the
rollup refresh for old writes); while a late write is still only in the invalidation log the settled
days are read afresh. So the figures served are always those a full read would give; only the work is
skipped. Yesterday and today are read on every request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from app.periods import Period, day_start, local_date
from app.sla import service as sla
from app.status import queries

RECENT_DAYS = 2  # yesterday and today: still filling, read on every request


@dataclass(frozen=True)
class Grid:
    """Per service: one record and one status letter per day of the period, and the period's judged
    and successful slots (what its uptime is computed from). The first `settled` days came from
    memory, and `memo` lives as long as they do: what a caller derives from those days alone (the
    status page's formatted tooltips) can be kept there."""

    records: dict[str, list[sla.DayRecord]]
    codes: dict[str, list[str]]
    slots: dict[str, tuple[int, int]]
    settled: int = 0
    memo: dict = field(default_factory=dict)

    def uptime(self, service_id: str):
        slots, ok_slots = self.slots[service_id]
        return sla.CheckFigures(slots, ok_slots).uptime


@dataclass(frozen=True)
class _Settled:
    key: tuple
    grid: Grid


_settled: _Settled | None = None  # one per process: the newest settled history read


def _judge(services: list, records: dict[str, list[sla.DayRecord]]) -> Grid:
    codes, slots = {}, {}
    for s in services:
        days = records[s["id"]]
        codes[s["id"]] = [sla.day_status(r, s["tier"]) for r in days]
        slots[s["id"]] = (sum(r.checks.slots for r in days), sum(r.checks.ok_slots for r in days))
    return Grid(records, codes, slots)


def _joined(services: list, settled: Grid, recent: Grid) -> Grid:
    ids = [s["id"] for s in services]
    return Grid({sid: settled.records[sid] + recent.records[sid] for sid in ids},
                {sid: settled.codes[sid] + recent.codes[sid] for sid in ids},
                {sid: (settled.slots[sid][0] + recent.slots[sid][0], settled.slots[sid][1] + recent.slots[sid][1])
                 for sid in ids},
                len(next(iter(settled.records.values()), [])), settled.memo)


async def grid(conn: asyncpg.Connection, services: list, period: Period, now: datetime, timezone_name: str) -> Grid:
    """The period's day records and status letters per service, the settled days from memory when
    nothing they depend on has moved."""
    global _settled
    cut_day = local_date(now, period.zone) - timedelta(days=RECENT_DAYS - 1)
    if cut_day <= period.first_day:
        return _judge(services, await sla.check_days(conn, services, period, now, timezone_name))
    cut = day_start(cut_day, period.zone)
    version = await conn.fetchrow(queries.HISTORY_VERSION, [s["id"] for s in services], period.start, cut)
    settled_period = Period(period.first_day, cut_day, period.zone, period.label)
    recent_period = Period(cut_day, period.end_day, period.zone, period.label)
    if version["pending"]:
        # A late write waits in the invalidation log: read everything; keep nothing.
        return _judge(services, await sla.check_days(conn, services, period, now, timezone_name))
    key = (tuple(version["generations"]), timezone_name, settled_period.first_day, cut_day,
           tuple((s["id"], s["tier"], s["interval_s"]) for s in services))
    held = _settled
    if held is None or held.key != key:
        settled = _judge(services, await sla.check_days(conn, services, settled_period, now, timezone_name))
        held = _settled = _Settled(key, settled)
    recent = _judge(services, await sla.check_days(conn, services, recent_period, now, timezone_name))
    return _joined(services, held.grid, recent)
