"""Judged slots per service and day (docs/sla-math.md), as plain per-day lists: the form every per-day
figure is computed in (availability, day status, the 90-day grid), read from the daily rollup as one
row of arrays per service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from app.periods import Period, day_bounds, elapsed_seconds, local_date, merge_intervals
from app.rollups import service as rollups
from app.sla import queries

NO_PRIORITIES: frozenset[str] = frozenset()
# A service's slots, ok, failed and downtime seconds per day (_dense).
Counts = tuple[list[int], list[int], list[int], list[int]]


@dataclass
class ServiceDays:
    """One service's days, element i for the period's day i: slot counts with maintenance slots taken
    out (reported apart), expected slots, and the incidents open on that day (sparse)."""

    slots: list[int]
    ok_slots: list[int]
    failed_slots: list[int]
    downtime_s: list[int]
    maintenance_slots: list[int]
    expected: list[float]
    incidents: dict[int, list[asyncpg.Record]] = field(default_factory=dict)  # day index -> rows (id, priority)

    def priorities(self, i: int) -> frozenset[str]:
        return frozenset(inc["priority"] for inc in self.incidents[i]) if i in self.incidents else NO_PRIORITIES

    def incident_ids(self, i: int) -> tuple[str, ...]:
        return tuple(inc["id"] for inc in self.incidents[i]) if i in self.incidents else ()

    def sliced(self, lo: int, hi: int) -> ServiceDays:
        """Days lo .. hi - 1 alone."""
        return ServiceDays(
            self.slots[lo:hi],
            self.ok_slots[lo:hi],
            self.failed_slots[lo:hi],
            self.downtime_s[lo:hi],
            self.maintenance_slots[lo:hi],
            self.expected[lo:hi],
            {i - lo: rows for i, rows in self.incidents.items() if lo <= i < hi},
        )

    def joined(self, later: ServiceDays) -> ServiceDays:
        """These days followed by `later`'s."""
        offset = len(self.slots)
        return ServiceDays(
            self.slots + later.slots,
            self.ok_slots + later.ok_slots,
            self.failed_slots + later.failed_slots,
            self.downtime_s + later.downtime_s,
            self.maintenance_slots + later.maintenance_slots,
            self.expected + later.expected,
            {**self.incidents, **{offset + i: rows for i, rows in later.incidents.items()}},
        )


def _dense(
    row: Mapping[str, Any] | None, epochs: list[int], index: dict[int, int], first: date, zone: ZoneInfo
) -> Counts:
    """One service's bucket arrays (rollups.read_arrays) as slots, ok, failed and downtime per day;
    `epochs` are the days' starts (Unix seconds), `index` maps them to day numbers."""
    if row is not None and len(row["bucket_epochs"]) == len(epochs) and list(row["bucket_epochs"]) == epochs:
        # one bucket per day, in order: as they are
        return list(row["slots"]), list(row["ok_slots"]), list(row["failed_slots"]), list(row["downtime_s"])
    n = len(epochs)
    slots, ok_slots, failed_slots, downtime_s = [0] * n, [0] * n, [0] * n, [0] * n
    if row is None:
        return slots, ok_slots, failed_slots, downtime_s
    for epoch, n, ok, failed, down in zip(
        row["bucket_epochs"], row["slots"], row["ok_slots"], row["failed_slots"], row["downtime_s"]
    ):
        i = index.get(epoch)
        if i is None:
            i = (local_date(datetime.fromtimestamp(epoch, timezone.utc), zone) - first).days
        slots[i] += n
        ok_slots[i] += ok
        failed_slots[i] += failed
        downtime_s[i] += down
    return slots, ok_slots, failed_slots, downtime_s


def _overlap_s(lo: datetime, hi: datetime, windows: list[tuple[datetime, datetime]]) -> float:
    return sum(max(0.0, elapsed_seconds(max(lo, w_lo), min(hi, w_hi))) for w_lo, w_hi in windows)


async def read(
    conn: asyncpg.Connection, services: list[asyncpg.Record], period: Period, now: datetime, timezone_name: str
) -> dict[str, ServiceDays]:
    """Per service, the period's days: judged checks, expectation, incidents."""
    ids = [s["id"] for s in services]
    zone, first = period.zone, period.first_day
    start, end = period.start, period.end
    days = period.days()
    rows = await rollups.read_arrays(conn, rollups.CHECKS_DAILY, timezone_name, ids, start, end)
    windows = await conn.fetch(queries.MAINTENANCE_WINDOWS_IN_RANGE, ids, start, end)
    maintenance: list[asyncpg.Record] = []
    if windows:
        # Only the windows' span can hold maintenance slots; as values, the bounds let the planner
        # skip every other chunk.
        span_lo = max(start, min(w["starts_at"] for w in windows))
        span_hi = min(end, max(w["ends_at"] for w in windows))
        maintenance = await conn.fetch(queries.MAINTENANCE_SLOTS_BY_DAY, ids, span_lo, span_hi, timezone_name)
    incidents = await conn.fetch(queries.INCIDENTS_OVERLAPPING, ids, start, end)

    # Day bounds are the same for every service: (start, end, observed until) of each day, as instants,
    # so a 23- or 25-hour DST day expects 23 or 25 hours of slots.
    bounds = [(lo, day_end, min(day_end, max(lo, now))) for lo, day_end in day_bounds(days, zone)]
    observed = [elapsed_seconds(lo, hi) for lo, _, hi in bounds]

    result: dict[str, ServiceDays] = {}
    by_id = {r["service_id"]: r for r in rows}
    intervals = {s["id"]: s["interval_s"] for s in services}
    # A daily bucket starts at its day's local midnight: its Unix second finds the day (a bucket a
    # change of reporting zone left elsewhere in its day is placed by its local date).
    epochs = [int(lo.timestamp()) for lo, _, _ in bounds]
    index = {epoch: i for i, epoch in enumerate(epochs)}
    for service in services:
        sid, interval = service["id"], service["interval_s"]
        slots, ok_slots, failed_slots, downtime_s = _dense(by_id.get(sid), epochs, index, first, zone)
        service_windows = merge_intervals(
            [(w["starts_at"], w["ends_at"]) for w in windows if sid in w["affected_services"]]
        )
        if service_windows:
            expected = [
                max(0.0, seconds - _overlap_s(lo, hi, service_windows)) / interval
                for seconds, (lo, _, hi) in zip(observed, bounds)
            ]
        else:
            expected = [seconds / interval for seconds in observed]
        result[sid] = ServiceDays(slots, ok_slots, failed_slots, downtime_s, [0] * len(days), expected)
    for m in maintenance:
        service_days = result[m["service_id"]]
        i = (local_date(m["day"], zone) - first).days
        service_days.slots[i] -= m["slots"]
        service_days.ok_slots[i] -= m["ok_slots"]
        service_days.failed_slots[i] -= m["failed_slots"]
        service_days.downtime_s[i] -= m["failed_slots"] * intervals[m["service_id"]]
        service_days.maintenance_slots[i] += m["slots"]
    for inc in incidents:
        for sid in inc["affected_services"]:
            if sid not in result:
                continue
            for i, (lo, day_end, _) in enumerate(bounds):
                if inc["created_at"] < day_end and (inc["resolved_at"] is None or inc["resolved_at"] > lo):
                    result[sid].incidents.setdefault(i, []).append(inc)
    return result
