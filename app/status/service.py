"""Current status per docs/sla-math.md: per service and overall, with the 90-day uptime and grid."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import TypedDict
from zoneinfo import ZoneInfo

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app import db
from app.formatting import percentage_text, utc_iso
from app.periods import last_days
from app.services import service as services_service
from app.status import history, queries

SEVERITY = {"operational": 0, "degraded": 1, "outage": 2}
GRID_DAYS = 90
LATEST_COUNT = 3  # slots that decide an outage (docs/sla-math.md)
RESULT_DELAY = timedelta(minutes=2)  # a slot's result lands up to its timeout (30 s) + a flush later
LATEST_WITHIN = timedelta(days=2)  # older slots are not 'latest': a service without any shows none
# queries.RECENT_FLOOR and LATEST_FLOOR lie a day past what the reads need when `now` is the present
# (RECENT_SLOTS: at most 1 day back; LATEST_SLOTS: 3 days back for 2): half of that day is left
# for the app's clock to differ from the database's.
CLOCK_ROOM = timedelta(hours=12)
RECENT_FLOOR_SPAN = timedelta(days=1)
LATEST_FLOOR_SPAN = timedelta(days=3)


class ServiceEntry(TypedDict):
    """A service of GET /api/system-status (models.ServiceStatus) in plain JSON types: the answer is
    encoded as it is, without a walk over its 4,500 grid letters (views.py)."""

    id: str
    name: str
    status: str
    uptime: str | None
    uptimeData: list[str]
    lastCheckedAt: str | None


class SystemStatusJson(TypedDict):
    """GET /api/system-status (models.SystemStatus), in plain JSON types."""

    overallStatus: str
    lastUpdated: str
    services: list[ServiceEntry]


def current_status(latest: list[asyncpg.Record], open_priorities: set[str], latency_target_ms: int) -> str:
    """outage / degraded / operational from the newest slots (newest first) and open incidents."""
    if (len(latest) == 3 and not any(s["ok"] for s in latest)) or "P1" in open_priorities:
        return "outage"
    newest = latest[0] if latest else None
    slow = newest is not None and newest["ok"] and (newest["latency_ms"] or 0) > latency_target_ms
    if (newest is not None and not newest["ok"]) or slow or open_priorities & {"P2", "P3"}:
        return "degraded"
    return "operational"


async def latest_slots(conn: db.Conn, services: list[asyncpg.Record], now: datetime) -> dict[str, list[asyncpg.Record]]:
    """The newest three slots of each service (newest first) checked within LATEST_WITHIN: read from the
    last few intervals for all services at once, then looked up further back for the few (late,
    paused) services that have fewer than three there. Both reads bound the raw rows from below
    relative to the database's clock (queries.RECENT_FLOOR, LATEST_FLOOR) when `now` is the present:
    their cached plans hold only the newest chunks of `checks`."""
    latest: dict[str, list[asyncpg.Record]] = {s["id"]: [] for s in services}
    if not services:
        return latest
    lookback = timedelta(seconds=LATEST_COUNT * max(s["interval_s"] for s in services)) + RESULT_DELAY
    recent = queries.RECENT_SLOTS if _floor_holds(now - lookback, RECENT_FLOOR_SPAN) else queries.RECENT_SLOTS_ANY_TIME
    for row in await conn.fetch(recent, list(latest), now, lookback):
        if len(latest[row["service_id"]]) < LATEST_COUNT:
            latest[row["service_id"]].append(row)
    behind = [sid for sid, rows in latest.items() if len(rows) < LATEST_COUNT]
    if behind:
        for sid in behind:
            latest[sid] = []
        holds = _floor_holds(now - LATEST_WITHIN, LATEST_FLOOR_SPAN)
        older = queries.LATEST_SLOTS if holds else queries.LATEST_SLOTS_ANY_TIME
        for row in await conn.fetch(older, behind, now, LATEST_WITHIN):
            latest[row["service_id"]].append(row)
    return latest


def _floor_holds(since: datetime, floor_span: timedelta) -> bool:
    """Whether a floor `floor_span` before the database's present lies at or before `since`."""
    return since >= datetime.now(timezone.utc) - floor_span + CLOCK_ROOM


async def system_status(
    conn: asyncpg.Connection, now: datetime, timezone_name: str, zone: ZoneInfo, pool: asyncpg.Pool | None = None
) -> SystemStatusJson:
    return (await snapshot(conn, now, timezone_name, zone, pool))[0]


Current = tuple[dict[str, list[asyncpg.Record]], list[asyncpg.Record]]  # newest slots, open incidents


async def _current(conn: db.Conn, services: list[asyncpg.Record], now: datetime) -> Current:
    """The newest slots of each service and the open incidents: what decides the current status."""
    return await latest_slots(conn, services, now), await conn.fetch(queries.OPEN_INCIDENTS)


async def _current_beside(
    pool: asyncpg.Pool, spare: PoolConnectionProxy, services: list[asyncpg.Record], now: datetime
) -> Current:
    try:
        return await _current(spare, services, now)
    finally:
        await pool.release(spare)


async def snapshot(
    conn: asyncpg.Connection, now: datetime, timezone_name: str, zone: ZoneInfo, pool: asyncpg.Pool | None = None
) -> tuple[SystemStatusJson, history.Grid]:
    """The system status and the 90-day grid it was computed from (the status page's tooltips show
    its figures). Given the pool, the current state is read on a second connection while the grid is
    read on `conn`, when one is idle (db.spare_connection)."""
    services = await services_service.list_active(conn)
    period = last_days(GRID_DAYS, now, zone)
    spare = None if pool is None else await db.spare_connection(pool)
    if pool is None or spare is None:
        latest, open_incidents = await _current(conn, services, now)
        grid = await history.grid(conn, services, period, now, timezone_name)
    else:
        current = asyncio.create_task(_current_beside(pool, spare, services, now))
        try:
            grid = await history.grid(conn, services, period, now, timezone_name)
        except BaseException:
            # Not cancelled (a task cancelled before it starts would never give the spare back): the
            # short read finishes and returns its connection, then the grid's error goes on.
            await asyncio.wait([current])
            if not current.cancelled():
                current.exception()  # retrieved: the grid's error is the one raised
            raise
        latest, open_incidents = await current

    entries: list[ServiceEntry] = []
    for s in services:
        priorities = {i["priority"] for i in open_incidents if s["id"] in i["affected_services"]}
        status = current_status(latest[s["id"]], priorities, s["latency_target_ms"])
        newest = latest[s["id"]][0] if latest[s["id"]] else None
        entries.append(
            {
                "id": s["id"],
                "name": s["name"],
                "status": status,
                "uptime": percentage_text(grid.uptime(s["id"])),
                "uptimeData": grid.codes[s["id"]],
                "lastCheckedAt": utc_iso(newest["ts"]) if newest else None,
            }
        )
    overall = max((e["status"] for e in entries), key=SEVERITY.__getitem__, default="operational")
    return {
        "overallStatus": overall,
        "lastUpdated": utc_iso(now),
        "services": entries,
    }, grid
