"""The 90-day grid's settled days, kept in memory between requests.

The days before yesterday change only when a write reaches them: an incident, a maintenance window or a
service (tier, interval) changes, or a late batch of checks lands and is refreshed into the rollups.
Each of those moves a generation number in the same transaction (sql/060_data_generations.sql; for
the rollups, sql/271: a trigger on what the refresh records it rewrote, sql/270, decides with this
module's margin); while a late write is still only in the invalidation log the settled days are read
afresh. So the figures served are always those a full read would give; only the work is skipped.
Yesterday and today are read on every request.

What is held lives on the Memory of the pool the request's connection came from (app/db.py): one
settled history per process and database; a connection of no pool holds nothing (every read full).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from app import db
from app.formatting import truncated_percentage
from app.periods import Period, day_start, local_date
from app.sla import days as days_of
from app.sla import service as sla
from app.sla.tiers import TIERS
from app.status import queries

Services = list[Any]  # the active services' rows (records with id, tier, interval_s, ...)
RECENT_DAYS = 2  # yesterday and today: still filling, read on every request


@dataclass(frozen=True)
class Grid:
    """Per service: the period's days, one status letter per day, and the period's judged and
    successful slots (what its uptime is computed from). The first `settled` days came from memory,
    and `memo` lives as long as they do: what a caller derives from those days alone (the status
    page's formatted tooltips) can be kept there."""

    first_day: date
    days: dict[str, days_of.ServiceDays]
    codes: dict[str, list[str]]
    slots: dict[str, tuple[int, int]]
    settled: int = 0
    memo: dict[Any, Any] = field(default_factory=dict)

    def uptime(self, service_id: str) -> Decimal | None:
        slots, ok_slots = self.slots[service_id]
        return truncated_percentage(ok_slots, slots)


@dataclass(frozen=True)
class _Settled:
    key: tuple[Any, ...]
    grid: Grid


@dataclass
class SettledDays:
    """Per process (db.Memory): the newest settled history read."""

    held: _Settled | None = None


# A day without incidents as judged: (slots, ok slots, maintenance slots, expected slots).
Figures = tuple[int, int, int, float]


class _Letters(dict[Figures, str]):
    """A day's letter per distinct (slots, ok, maintenance, expected) of days without incidents, for one
    tier: most of the 4,500 days of a grid share a few such tuples, so each is judged once."""

    def __init__(self, target: tuple[int, int]):
        super().__init__()
        self.target = target

    def __missing__(self, figures: Figures) -> str:
        slots, ok_slots, maintenance_slots, expected = figures
        letter = self[figures] = sla.day_code(
            slots, ok_slots, maintenance_slots, expected, days_of.NO_PRIORITIES, self.target
        )
        return letter


def _judge(services: Services, first_day: date, service_days: dict[str, days_of.ServiceDays]) -> Grid:
    codes, slots = {}, {}
    day_code = sla.day_code
    judged: dict[tuple[int, int], _Letters] = {}
    for s in services:
        d, target = service_days[s["id"]], TIERS[s["tier"]].availability.as_integer_ratio()
        memo = judged.get(target)
        if memo is None:
            memo = judged[target] = _Letters(target)
        letters = list(map(memo.__getitem__, zip(d.slots, d.ok_slots, d.maintenance_slots, d.expected)))
        for i in d.incidents:  # a day's incidents decide its letter too: judged one by one
            letters[i] = day_code(
                d.slots[i], d.ok_slots[i], d.maintenance_slots[i], d.expected[i], d.priorities(i), target
            )
        codes[s["id"]] = letters
        slots[s["id"]] = (sum(d.slots), sum(d.ok_slots))
    return Grid(first_day, service_days, codes, slots)


def _joined(services: Services, settled: Grid, recent: Grid) -> Grid:
    ids = [s["id"] for s in services]
    return Grid(
        settled.first_day,
        {sid: settled.days[sid].joined(recent.days[sid]) for sid in ids},
        {sid: settled.codes[sid] + recent.codes[sid] for sid in ids},
        {
            sid: (settled.slots[sid][0] + recent.slots[sid][0], settled.slots[sid][1] + recent.slots[sid][1])
            for sid in ids
        },
        len(settled.codes[ids[0]]) if ids else 0,
        settled.memo,
    )


def _sliced(services: Services, whole: Grid, count: int) -> Grid:
    """The first `count` days of a grid."""
    days = {s["id"]: whole.days[s["id"]].sliced(0, count) for s in services}
    return Grid(
        whole.first_day,
        days,
        {s["id"]: whole.codes[s["id"]][:count] for s in services},
        {sid: (sum(d.slots), sum(d.ok_slots)) for sid, d in days.items()},
    )


async def _read(
    conn: asyncpg.Connection, services: Services, period: Period, now: datetime, timezone_name: str
) -> Grid:
    return _judge(services, period.first_day, await days_of.read(conn, services, period, now, timezone_name))


async def grid(conn: asyncpg.Connection, services: Services, period: Period, now: datetime, timezone_name: str) -> Grid:
    """The period's days and status letters per service, the settled days from memory when nothing
    they depend on has moved."""
    memory = db.memory(conn).of(SettledDays)
    cut_day = local_date(now, period.zone) - timedelta(days=RECENT_DAYS - 1)
    if cut_day <= period.first_day:
        return await _read(conn, services, period, now, timezone_name)
    cut = day_start(cut_day, period.zone)
    version = await conn.fetchrow(queries.HISTORY_VERSION, [s["id"] for s in services], period.start, cut)
    assert version is not None  # a SELECT of values: always one row
    if version["pending"]:
        # A late write waits in the invalidation log: read everything; keep nothing.
        return await _read(conn, services, period, now, timezone_name)
    settled_period = Period(period.first_day, cut_day, period.zone, period.label)
    key = (
        tuple(version["generations"]),
        timezone_name,
        settled_period.first_day,
        cut_day,
        tuple((s["id"], s["tier"], s["interval_s"]) for s in services),
    )
    held = memory.held
    if held is None or held.key != key:
        # Read the whole period at once and keep its settled days.
        whole = await _read(conn, services, period, now, timezone_name)
        settled = _sliced(services, whole, len(settled_period.days()))
        memory.held = _Settled(key, settled)
        return Grid(whole.first_day, whole.days, whole.codes, whole.slots, len(settled_period.days()), settled.memo)
    recent = await _read(conn, services, Period(cut_day, period.end_day, period.zone, period.label), now, timezone_name)
    return _joined(services, held.grid, recent)
