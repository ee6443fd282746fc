"""Detection of many services in one transaction, for the every-minute sweep (workers/detection.py):
their states, slots, incidents and next stored slots are read in one statement each for all of
them, and the runs and anchors of those whose slots call for no action are saved in one statement.
A service whose slots call for an action (open, escalate, recover, recur, resolve: rare) is judged
by service.detect in the same transaction, under the lock already held, so every incident write
stays the one code path; the result of each service is the one service.detect gives."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from app.detection import queries, rules
from app.detection.rules import Slot
from app.detection.service import (
    FIRST_LOOKBACK_SLOTS,
    MAX_CATCH_UP,
    SETTLE_MARGIN,
    Detection,
    detect,
    due_at,
    replayed,
)

Row = Any  # an asyncpg.Record, or a dict of the same keys


async def detect_many(
    conn: asyncpg.Connection, service_ids: list[str], now: datetime, auto_resolve_minutes: int
) -> dict[str, Detection]:
    """detect() of every service of `service_ids` at `now`, in one transaction."""
    found = {sid: Detection([]) for sid in service_ids}
    async with conn.transaction():
        await conn.execute(queries.LOCK_SERVICES, service_ids)
        services = {r["id"]: r for r in await conn.fetch(queries.SERVICES, service_ids) if r["is_active"]}
        ids = [sid for sid in service_ids if sid in services]
        if not ids:
            return found
        first = [now - FIRST_LOOKBACK_SLOTS * timedelta(seconds=services[sid]["interval_s"]) for sid in ids]
        await conn.execute(queries.ENSURE_STATES, ids, first, list(rules.FAMILIES))
        states: dict[str, dict[str, Row]] = {sid: {} for sid in ids}
        for state in await conn.fetch(queries.STATES, ids):
            states[state["service_id"]][state["family"]] = state
        since = [max(min(s["anchor_ts"] for s in states[sid].values()), now - MAX_CATCH_UP) for sid in ids]
        slots: dict[str, list[Slot]] = {sid: [] for sid in ids}
        for r in await conn.fetch(queries.SLOTS_MANY, ids, since, now):
            slots[r["service_id"]].append(Slot(r["ts"], r["ok"], r["latency_ms"]))
        named = [s["incident_id"] for sid in ids for s in states[sid].values() if s["incident_id"]]
        incidents = Incidents(await conn.fetch(queries.INCIDENTS_OF, ids, named))
        next_slots = {r["service_id"]: r["next_slot"] for r in await conn.fetch(queries.NEXT_SLOTS, ids, now)}
        saves: list[tuple[Any, ...]] = []
        for sid in ids:
            service = services[sid]
            rows = {family: incidents.of_family(sid, family, states[sid][family]) for family in rules.FAMILIES}
            settle_s = timedelta(seconds=float(service["timeout_s"])) + SETTLE_MARGIN
            minutes = auto_resolve_minutes
            auto_resolve_slots = -(-minutes * 60 // service["interval_s"]) if minutes else 0
            replays = {
                family: replayed(
                    service,
                    family,
                    states[sid][family],
                    rows[family],
                    slots[sid],
                    now - settle_s,
                    auto_resolve_slots,
                    now,
                )
                for family in rules.FAMILIES
            }
            if any(result.actions for _, _, result in replays.values()):
                found[sid] = await detect(conn, sid, now, auto_resolve_minutes)
                continue
            for family, (incident, anchor_ts, result) in replays.items():
                state, row = states[sid][family], rows[family]
                anchor_ts, runs = result.anchor or (
                    anchor_ts,
                    rules.Runs(state["bad_run"], state["severe_run"], state["good_run"]),
                )
                saves.append(
                    (
                        sid,
                        family,
                        anchor_ts,
                        runs.bad,
                        runs.severe,
                        runs.good,
                        row["id"] if row else None,
                        incident.phase if incident else None,
                        state["last_action_ts"],
                    )
                )
            found[sid] = Detection(
                [],
                watching=any(incident is not None for incident, _, _ in replays.values()),
                interval_s=service["interval_s"],
                due_at=due_at(slots[sid], settle_s, now, next_slots[sid]),
            )
        if saves:
            await conn.execute(queries.SAVE_STATES, *(list(column) for column in zip(*saves, strict=True)))
    return found


class Incidents:
    """The incidents read for every service, looked up as service._family_incident does."""

    def __init__(self, rows: list[Row]) -> None:
        self.by_id = {r["id"]: r for r in rows}
        self.open_detected: dict[tuple[str, str], Row] = {}
        for r in rows:  # ordered by id: the first one of a family is kept
            if r["detected_service_id"] is not None and r["status"] != "resolved":
                self.open_detected.setdefault((r["detected_service_id"], r["family"]), r)

    def of_family(self, service_id: str, family: str, state: Row) -> Row | None:
        """The incident the state names while it is open, else the family's open detected incident."""
        row = self.by_id.get(state["incident_id"]) if state["incident_id"] else None
        if row is None or row["status"] == "resolved":
            row = self.open_detected.get((service_id, family))
        return row
