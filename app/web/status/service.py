"""What the public status page shows, read through the domain services directly (no HTTP): the
banner and per-service status, 90-day uptime and grid of GET /api/system-status (same function, same
figures), each day's availability, downtime and incidents for the tooltips, the open incidents and
maintenance windows, and the past incidents by day of GET /api/incidents/past."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

import asyncpg
from markupsafe import Markup

from app import db
from app.formatting import format_duration, percentage_text, truncated_percentage
from app.incidents import service as incidents
from app.incidents.models import IncidentRead
from app.maintenance import service as maintenance
from app.maintenance.models import WindowRead
from app.status import service as status
from app.status.history import Grid
from app.web.status import queries

PAST_DAYS = 90  # as far back as the grid
PAST_DAYS_PER_PAGE = 14
MAINTENANCE_SHOWN = 20
READ_AT_KEYS = frozenset({"asOf", "asOfLocal"})  # when the page data was read, not what it says


class Bar(NamedTuple):
    """One day of a service's grid: its status letter (docs/sla-math.md) and the tooltip's figures (a
    tuple: a page builds 4,500 of them)."""

    day: str
    code: str
    uptime: str | None
    downtime: str
    incident_ids: tuple[str, ...]


def grid_html(bars: list[Bar]) -> Markup:
    """A grid's days as bare coloured cells, oldest first: 4,500 of them on a 50-service page, so each
    is as small as it can be (the tooltips' figures travel once, as JSON: grid_details)."""
    return Markup("".join(f'<i class="d-{b.code}"></i>' for b in bars))


def grid_summary(bars: list[Bar], day_labels: dict[str, str]) -> str:
    """'Operational 85, Partial outage 3, …': the grid for screen readers and for pages without scripts."""
    counts = Counter(b.code for b in bars)
    return ", ".join(f"{label} {counts[code]}" for code, label in day_labels.items() if counts[code])


def grid_details(bars: list[Bar]) -> dict[str, Any]:
    """What the tooltips show, sparse: availability and downtime only where they are not 100 % and 0m."""
    up: dict[int, str] = {}
    full: list[int] = []
    down: dict[int, str] = {}
    inc: dict[int, tuple[str, ...]] = {}
    for i, b in enumerate(bars):
        if b.uptime == "100.00":
            full.append(i)
        elif b.uptime is not None:
            up[i] = b.uptime
        if b.downtime != "0m":
            down[i] = b.downtime
        if b.incident_ids:
            inc[i] = b.incident_ids
    return {"first": bars[0].day if bars else None, "up": up, "full": full, "down": down, "inc": inc}


def local_text(ts: datetime | None, zone: ZoneInfo) -> str | None:
    """An instant as 'YYYY-MM-DD HH:MM' in the reporting time zone."""
    if ts is None:
        return None
    return ts.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# A page formats 4,500 days, whose figures repeat (full days, the same few downtimes): each distinct
# figure is written once (exact Decimal arithmetic costs ~8 µs a day).
@lru_cache(maxsize=8192)
def _uptime_text(ok_slots: int, slots: int) -> str | None:
    return percentage_text(truncated_percentage(ok_slots, slots))


_downtime_text = lru_cache(maxsize=8192)(format_duration)


def _bars(grid: Grid, service_id: str, lo: int, hi: int, day_texts: list[str]) -> list[Bar]:
    days, codes = grid.days[service_id], grid.codes[service_id]
    ok_slots, slots, downtime_s = days.ok_slots, days.slots, days.downtime_s
    return [
        Bar(
            day_texts[i],
            codes[i],
            _uptime_text(ok_slots[i], slots[i]),
            _downtime_text(downtime_s[i]),
            days.incident_ids(i),
        )
        for i in range(lo, hi)
    ]


def _grid_bars(grid: Grid, service_id: str, day_texts: list[str]) -> list[Bar]:
    """A service's bars; those of the settled days are formatted once and kept as long as the grid is."""
    kept = grid.memo.get(("bars", service_id))
    if kept is None:
        kept = grid.memo[("bars", service_id)] = _bars(grid, service_id, 0, grid.settled, day_texts)
    return kept + _bars(grid, service_id, grid.settled, len(grid.codes[service_id]), day_texts)


def _names(service_ids: list[str], names: dict[str, str]) -> str:
    return ", ".join(names.get(sid, sid) for sid in service_ids)


def _with_local_times(incident: IncidentRead, zone: ZoneInfo, names: dict[str, str]) -> dict[str, Any]:
    """The incident as the API writes it, with what the page adds: service names and local times."""
    return {
        **incident.to_public(),
        "affectedNames": _names(incident.affected_services, names),
        "createdLocal": local_text(incident.created_at, zone),
        "resolvedLocal": local_text(incident.resolved_at, zone),
        "updates": [{**u.to_public(), "createdLocal": local_text(u.created_at, zone)} for u in incident.updates],
    }


def _maintenance(
    windows: list[WindowRead], now: datetime, zone: ZoneInfo, names: dict[str, str]
) -> list[dict[str, Any]]:
    shown = []
    for w in sorted(windows, key=lambda w: w.starts_at):
        shown.append(
            {
                **w.model_dump(),
                "inProgress": w.starts_at <= now,
                "affectedNames": _names(w.affected_services, names),
                "startsLocal": w.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "endsLocal": w.ends_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            }
        )
    return shown


def same_figures(shown: dict[str, Any], read: dict[str, Any]) -> bool:
    """Whether page data read now shows what `shown` shows: everything but the time of reading equal.
    The page then keeps its bytes, ETag and "as of" (since when its figures hold, as the API's
    `lastUpdated`), so the copies that browsers and shared caches hold stay valid."""
    return shown.keys() == read.keys() and all(shown[k] == read[k] for k in shown.keys() - READ_AT_KEYS)


Read = Callable[[asyncpg.Connection], Awaitable[Any]]


async def _read_beside(pool: asyncpg.Pool, read: Read) -> tuple[bool, Any]:
    """(True, what `read` gave) on a spare pooled connection, or (False, None) when none is idle
    (db.spare_connection: never waited for); the caller then reads on its own connection."""
    spare = await db.spare_connection(pool)
    if spare is None:
        return False, None
    try:
        return True, await read(cast(asyncpg.Connection, spare))  # a pool's proxy: the connection's methods
    finally:
        await pool.release(spare)


async def page(
    conn: asyncpg.Connection,
    now: datetime,
    timezone_name: str,
    zone: ZoneInfo,
    past_page: int = 1,
    pool: asyncpg.Pool | None = None,
) -> dict[str, Any]:
    """Everything the status page renders, as of `now` (`pool`: see status.snapshot). Given the pool,
    the open incidents, the maintenance windows, the past incidents and the titles of the grid's
    incidents are read on spare connections while the status and grid are read: a change is built in
    about half the round trips, and the readers waiting for it wait that much less
    (benchmarks/README.md)."""
    reads: dict[str, Read] = {
        "active": incidents.list_active,
        "windows": lambda c: maintenance.list_windows(c, now, 1, MAINTENANCE_SHOWN),
        "past": lambda c: incidents.past(c, PAST_DAYS, past_page, PAST_DAYS_PER_PAGE, now, zone),
        "titles": lambda c: c.fetch(queries.INCIDENT_TITLES_SINCE, now - timedelta(days=status.GRID_DAYS + 1), now),
    }
    beside = {} if pool is None else {k: asyncio.create_task(_read_beside(pool, r)) for k, r in reads.items()}
    try:
        system, grid = await status.snapshot(conn, now, timezone_name, zone, pool)
    finally:
        # Not cancelled: each read finishes and gives its connection back (then an error goes on).
        outcomes = dict(zip(beside, await asyncio.gather(*beside.values(), return_exceptions=True), strict=True))
    read: dict[str, Any] = {}
    for name, outcome in outcomes.items():
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome[0]:
            read[name] = outcome[1]
    for name, on_conn in reads.items():
        if name not in read:
            read[name] = await on_conn(conn)
    services: list[dict[str, Any]] = []
    incident_ids: set[str] = set()
    day_count = max((len(codes) for codes in grid.codes.values()), default=0)
    day_texts = [(grid.first_day + timedelta(days=i)).isoformat() for i in range(day_count)]
    for entry in system["services"]:
        bars = _grid_bars(grid, entry["id"], day_texts)
        incident_ids.update(i for b in bars for i in b.incident_ids)
        # what the page shows of the service: not its newest check's time, which moves with every
        # check while the figures shown stay the same (same_figures)
        shown = {"id": entry["id"], "name": entry["name"], "status": entry["status"], "uptime": entry["uptime"]}
        services.append(shown | {"bars": bars})
    # The grid's incidents are among those read beside it (any incident of the grid's days); any
    # that is not (created since) is read now. In id order: the same figures give the same bytes.
    rows = {r["id"]: r for r in read["titles"] if r["id"] in incident_ids}
    missing = sorted(incident_ids - rows.keys())
    if missing:
        rows |= {r["id"]: r for r in await conn.fetch(queries.INCIDENT_TITLES, missing)}
    titles = {i: {"title": rows[i]["title"], "priority": rows[i]["priority"]} for i in sorted(rows)}
    names = {s["id"]: s["name"] for s in services}
    active = [_with_local_times(i, zone, names) for i in read["active"]]
    windows = read["windows"].windows
    past = read["past"]
    past_days = [
        {
            "date": day.date,
            "incidents": [_with_local_times(i, zone, names) for i in day.incidents or []],
            "preparing": day.no_incident_message == incidents.PREPARING_MESSAGE,
        }
        for day in past.days
    ]
    return {
        "overallStatus": system["overallStatus"],
        "asOf": now,
        "asOfLocal": now.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        "timezone": timezone_name,
        "services": services,
        "serviceNames": names,
        "grids": {s["id"]: grid_details(s["bars"]) for s in services},
        "incidentTitles": titles,
        "activeIncidents": active,
        "maintenance": _maintenance(windows, now, zone, names),
        "past": {"days": past_days, "pagination": past.pagination.model_dump()},
    }
