"""Live status events: `status-update` and `uptime-updated` (PRD §5.2) computed from what is stored,
by the same code that answers `GET /api/system-status` (service.snapshot), so an event can never say
what the API does not.

`sync` reads the current snapshot (majority-of-regions slots, open incidents, the 90-day letters),
compares it with what was last announced (table live_status) and emits only the differences: one
`status-update` per service whose status changed (with the new overallStatus), one `uptime-updated`
per day whose letter changed (today's as slots arrive, a past day after a late batch, an incident or
a maintenance write). It runs under a database advisory lock and emits before its transaction
commits the new state, so any number of processes may call it: they take turns, each sees what the
previous one announced, and their events reach Redis in the order of the states they describe.
Who calls it and when: workers/live.py (on every committed write, through NOTIFY, and on a timer for
what time alone changes: maintenance starting or ending, a new day).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import asyncpg

from app.formatting import utc_iso
from app.status import queries, service

log = logging.getLogger(__name__)
STATUS_ROOMS = ["system-status"]
UPTIME_ROOMS = ["uptime"]


class EventSink(Protocol):
    async def publish(self, event: str, data: dict[str, Any], rooms: list[str]) -> str | None: ...


class NotPublished(RuntimeError):
    """Redis did not take an event: nothing of this computation is remembered, the next one retries."""


@dataclass(frozen=True)
class Announced:
    """What clients were last told about one service."""

    status: str
    days: dict[str, str]  # ISO date -> letter


@dataclass(frozen=True)
class LiveEvent:
    event: str
    data: dict[str, Any]
    rooms: list[str]


def grid_days(first_day: date, letters: list[str]) -> dict[str, str]:
    return {(first_day + timedelta(days=i)).isoformat(): letter for i, letter in enumerate(letters)}


def changes(
    previous: dict[str, Announced],
    current: dict[str, Announced],
    overall: str,
    now: datetime,
    last_checked: dict[str, str | None],
) -> list[LiveEvent]:
    """The events that take a client from `previous` to `current`. A service seen for the first time
    gets its status announced; its days are taken as known (the page or GET it loaded shows them),
    otherwise a first run would send 90 letters per service."""
    events: list[LiveEvent] = []
    for service_id, now_state in current.items():
        before = previous.get(service_id)
        if before is not None:
            for day, letter in now_state.days.items():
                if before.days.get(day) != letter:
                    events.append(
                        LiveEvent(
                            "uptime-updated", {"serviceId": service_id, "date": day, "status": letter}, UPTIME_ROOMS
                        )
                    )
        if before is None or before.status != now_state.status:
            events.append(
                LiveEvent(
                    "status-update",
                    {
                        "serviceId": service_id,
                        "status": now_state.status,
                        "overallStatus": overall,
                        "lastCheckedAt": last_checked.get(service_id),
                        "timestamp": utc_iso(now),
                    },
                    STATUS_ROOMS,
                )
            )
    for service_id in previous.keys() - current.keys():  # deactivated or deleted: no longer on the page
        events.append(
            LiveEvent(
                "status-update",
                {
                    "serviceId": service_id,
                    "status": None,
                    "removed": True,
                    "overallStatus": overall,
                    "lastCheckedAt": None,
                    "timestamp": utc_iso(now),
                },
                STATUS_ROOMS,
            )
        )
    return events


async def _announced(conn: asyncpg.Connection) -> dict[str, Announced]:
    return {
        r["service_id"]: Announced(r["status"], json.loads(r["days"])) for r in await conn.fetch(queries.LIVE_STATE)
    }


async def _remember(conn: asyncpg.Connection, previous: dict[str, Announced], current: dict[str, Announced]) -> None:
    changed = [sid for sid, state in current.items() if previous.get(sid) != state]
    if changed:
        await conn.execute(
            queries.PUT_LIVE_STATE,
            changed,
            [current[s].status for s in changed],
            [json.dumps(current[s].days) for s in changed],
        )
    gone = list(previous.keys() - current.keys())
    if gone:
        await conn.execute(queries.FORGET_LIVE_STATE, gone)


async def sync(
    conn: asyncpg.Connection, sink: EventSink, now: datetime, timezone_name: str, zone: ZoneInfo
) -> list[LiveEvent]:
    """Emit what changed since the last announcement; returns the events sent. Raises NotPublished
    (and remembers nothing) when Redis refused one."""
    async with conn.transaction():
        await conn.execute(queries.LIVE_LOCK)
        status, grid = await service.snapshot(conn, now, timezone_name, zone)
        current = {
            e["id"]: Announced(e["status"], grid_days(grid.first_day, e["uptimeData"])) for e in status["services"]
        }
        previous = await _announced(conn)
        last_checked = {e["id"]: e["lastCheckedAt"] for e in status["services"]}
        events = changes(previous, current, status["overallStatus"], now, last_checked)
        for event in events:
            if await sink.publish(event.event, event.data, event.rooms) is None:
                raise NotPublished(f"{event.event} for {event.data['serviceId']} not published")
        await _remember(conn, previous, current)
    return events
