"""Incidents: the public reads, and the staff writes (create, update with optimistic concurrency,
status updates along the flow of flow.py, delete), each audited in its own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import asyncpg

from app.audit import service as audit
from app.auth.service import Principal
from app.contract import JsonObject, Pagination
from app.errors import ApiError, not_found
from app.formatting import format_duration
from app.incidents import flow, queries
from app.incidents.models import (
    IncidentCreate,
    IncidentPage,
    IncidentRead,
    IncidentUpdate,
    PastDay,
    PastIncidents,
    PastPagination,
    StatusUpdateCreate,
    UpdateRead,
)
from app.notifications import outbox
from app.periods import Period, day_start, local_date
from app.services.service import existing_ids

NO_INCIDENT_MESSAGE = "특별한 문제가 없습니다."
PREPARING_MESSAGE = "데이터를 준비 중입니다."


def _update_read(row: asyncpg.Record) -> UpdateRead:
    return UpdateRead(
        id=str(row["id"]),
        incident_id=row["incident_id"],
        status=row["status"],
        description=row["description"],
        author=row["author"],
        created_at=row["created_at"],
    )


def _incident_read(row: asyncpg.Record, updates: list[asyncpg.Record]) -> IncidentRead:
    resolved_at = row["resolved_at"]
    return IncidentRead(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        status=row["status"],
        severity=row["severity"],
        priority=row["priority"],
        reporter=row["reporter"],
        detection_criteria=row["detection_criteria"],
        affected_services=list(row["affected_services"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        resolved_at=resolved_at,
        resolution_time=None
        if resolved_at is None
        else format_duration((resolved_at - row["created_at"]).total_seconds()),
        updates=[_update_read(u) for u in updates],
    )


async def _with_updates(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[IncidentRead]:
    updates: dict[str, list[asyncpg.Record]] = {}
    for u in await conn.fetch(queries.UPDATES_OF, [r["id"] for r in rows]):
        updates.setdefault(u["incident_id"], []).append(u)
    return [_incident_read(r, updates.get(r["id"], [])) for r in rows]


async def list_active(conn: asyncpg.Connection) -> list[IncidentRead]:
    """Incidents not yet resolved, newest first, with their update timelines."""
    return await _with_updates(conn, await conn.fetch(queries.LIST_ACTIVE))


async def get(conn: asyncpg.Connection, incident_id: str) -> IncidentRead | None:
    row = await conn.fetchrow(queries.GET, incident_id)
    return None if row is None else (await _with_updates(conn, [row]))[0]


async def search(
    conn: asyncpg.Connection,
    statuses: Sequence[str] | None,
    priorities: Sequence[str] | None,
    service_id: str | None,
    page: int,
    limit: int,
) -> IncidentPage:
    """Incidents of any status matching the filters (None: any), newest first, one page."""
    total = await conn.fetchval(queries.COUNT_SEARCH, statuses, priorities, service_id)
    rows = await conn.fetch(queries.SEARCH, statuses, priorities, service_id, limit, (page - 1) * limit)
    return IncidentPage(incidents=await _with_updates(conn, rows), pagination=Pagination.of(page, limit, total))


async def past(
    conn: asyncpg.Connection, days: int, page: int, limit: int, now: datetime, zone: ZoneInfo
) -> PastIncidents:
    """The last `days` days, newest first, `limit` days a page, each with the incidents created that day;
    a day without any says so in `no_incident_message` (the only day that sets it)."""
    today = local_date(now, zone)
    total_pages = max(1, -(-days // limit))
    newest = today - timedelta(days=(page - 1) * limit)
    count = max(0, min(limit, days - (page - 1) * limit))
    page_days = [newest - timedelta(days=i) for i in range(count)]
    result_days: list[PastDay] = []
    if page_days:
        period = Period(page_days[-1], page_days[0] + timedelta(days=1), zone, "")
        rows = await conn.fetch(queries.LIST_CREATED_IN, period.start, period.end)
        first_check = await conn.fetchval(queries.FIRST_CHECK)
        by_day: dict[date, list[IncidentRead]] = {}
        for inc in await _with_updates(conn, rows):
            by_day.setdefault(local_date(inc.created_at, zone), []).append(inc)
        for day in page_days:
            found = by_day.get(day)
            if found is not None:
                result_days.append(PastDay(date=day.isoformat(), incidents=found))
                continue
            monitored = first_check is not None and first_check < day_start(day + timedelta(days=1), zone)
            message = NO_INCIDENT_MESSAGE if monitored else PREPARING_MESSAGE
            result_days.append(PastDay(date=day.isoformat(), incidents=None, no_incident_message=message))
    pages = PastPagination(
        page=page, limit=limit, total_days=days, total_pages=total_pages, has_next=page < total_pages
    )
    return PastIncidents(days=result_days, pagination=pages)


OPENED_NOTE = "인시던트가 등록되었습니다."
EDITABLE = (
    "title",
    "description",
    "status",
    "severity",
    "priority",
    "reporter",
    "detection_criteria",
    "affected_services",
)
PUBLIC_NAMES = {"detection_criteria": "detectionCriteria", "affected_services": "affectedServices"}


class Written(NamedTuple):
    """An incident write: the incident after it, its new timeline entry (None for a field edit), and
    what changed, by public field name: {"priority": {"from": "P3", "to": "P1"}}."""

    incident: IncidentRead
    update: UpdateRead | None
    changes: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class SystemActor:
    """A writer that is no signed-in user (detection's "monitoring system"): its name goes into the
    timeline and the audit log, without a user id."""

    username: str


Actor = Principal | SystemActor


async def _audit(conn: asyncpg.Connection, actor: Actor, action: str, incident_id: str, details: JsonObject) -> None:
    if isinstance(actor, Principal):
        await audit.record_by(conn, actor, action, "incident", incident_id, details)
    else:
        await audit.record(
            conn, action, actor_name=actor.username, target_type="incident", target_id=incident_id, details=details
        )


class IncidentConflict(ApiError):
    """A write based on a stale version: 409 carrying the current incident."""

    def __init__(self, current: IncidentRead, sent: int) -> None:
        super().__init__(
            409,
            "conflict",
            f"incident {current.id} changed since version {sent}: it is at "
            f"version {current.version}; merge and retry with that version",
        )
        self.current = current


async def check_services(conn: asyncpg.Connection, service_ids: list[str]) -> None:
    if not service_ids:
        return
    known = await existing_ids(conn, service_ids)
    unknown = [s for s in service_ids if s not in known]
    if unknown:
        raise ApiError(
            422,
            "validation_error",
            f"unknown services: {', '.join(unknown)}",
            [{"in": "body", "field": "affected_services", "message": f"unknown service {s!r}"} for s in unknown],
        )


async def _updates_of(conn: asyncpg.Connection, incident_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(queries.UPDATES_OF, [incident_id])


async def create(conn: asyncpg.Connection, data: IncidentCreate, actor: Actor) -> IncidentRead:
    """Open an incident; priority suggested from severity unless given; its first timeline entry."""
    await check_services(conn, data.affected_services)
    priority = data.priority or flow.suggest_priority(data.severity)
    reporter = data.reporter if data.reporter is not None else actor.username
    async with conn.transaction():
        row = await conn.fetchrow(
            queries.INSERT,
            data.title,
            data.description,
            data.status,
            data.severity,
            priority,
            reporter,
            data.detection_criteria,
            data.affected_services,
        )
        assert row is not None  # INSERT … RETURNING
        update = await conn.fetchrow(
            queries.INSERT_UPDATE, row["id"], data.status, data.note or OPENED_NOTE, actor.username
        )
        assert update is not None  # INSERT … RETURNING
        await _audit(
            conn,
            actor,
            "incident.create",
            row["id"],
            {"title": data.title, "severity": data.severity, "priority": priority, "status": data.status},
        )
        incident = _incident_read(row, [update])
        await outbox.incident_written(conn, incident, None)
    return incident


async def _locked(conn: asyncpg.Connection, incident_id: str, version: int | None) -> asyncpg.Record:
    if version is None:
        raise ApiError(
            428, "precondition_required", "send the version you saw: a 'version' field or an 'If-Match' header"
        )
    row = await conn.fetchrow(queries.GET_FOR_UPDATE, incident_id)
    if row is None:
        raise not_found("incident", incident_id)
    if row["version"] != version:
        raise IncidentConflict(_incident_read(row, await _updates_of(conn, incident_id)), version)
    return row


def _check_transition(current: str, target: str) -> None:
    if not flow.transition_allowed(current, target):
        raise ApiError(
            409,
            "invalid_transition",
            f"status cannot go from {current} to {target}: forward steps and reopening a resolved incident are allowed",
        )


async def _write(
    conn: asyncpg.Connection, row: asyncpg.Record, values: dict[str, Any], note: str | None, actor: Actor
) -> Written:
    updated = await conn.fetchrow(queries.UPDATE, row["id"], row["version"], *(values[k] for k in EDITABLE))
    assert updated is not None  # the row is locked at this version (_locked)
    update = None
    if note is not None:
        update = await conn.fetchrow(queries.INSERT_UPDATE, row["id"], values["status"], note, actor.username)
    changed = sorted(k for k in EDITABLE if values[k] != (list(row[k]) if k == "affected_services" else row[k]))
    await _audit(conn, actor, "incident.update", row["id"], {"fields": changed, "version": updated["version"]})
    if values["status"] != row["status"]:
        await _audit(conn, actor, "incident.status_change", row["id"], {"from": row["status"], "to": values["status"]})
    incident = _incident_read(updated, await _updates_of(conn, row["id"]))
    await outbox.incident_written(conn, incident, row["status"], noted=update is not None)
    changes = {
        PUBLIC_NAMES.get(k, k): {"from": list(row[k]) if k == "affected_services" else row[k], "to": values[k]}
        for k in changed
    }
    return Written(incident, None if update is None else _update_read(update), changes)


async def update(
    conn: asyncpg.Connection, incident_id: str, data: IncidentUpdate, version: int | None, actor: Actor
) -> Written:
    """Change the given fields of the version the client saw; a status change needs a note."""
    given = {k: v for k, v in data.model_dump(exclude_unset=True).items() if k in EDITABLE and v is not None}
    await check_services(conn, given.get("affected_services") or [])
    async with conn.transaction():
        row = await _locked(conn, incident_id, version)
        values: dict[str, Any] = {k: (list(row[k]) if k == "affected_services" else row[k]) for k in EDITABLE} | given
        if values["status"] != row["status"] and data.note is None:
            raise ApiError(
                422,
                "validation_error",
                "a status change needs a note",
                [{"in": "body", "field": "note", "message": "required when status changes"}],
            )
        _check_transition(row["status"], values["status"])
        return await _write(conn, row, values, data.note, actor)


async def add_update(
    conn: asyncpg.Connection, incident_id: str, data: StatusUpdateCreate, version: int | None, actor: Actor
) -> Written:
    """A timeline entry; moves the status when one is given."""
    async with conn.transaction():
        row = await _locked(conn, incident_id, version)
        values: dict[str, Any] = {k: (list(row[k]) if k == "affected_services" else row[k]) for k in EDITABLE}
        values["status"] = data.status or row["status"]
        _check_transition(row["status"], values["status"])
        return await _write(conn, row, values, data.description, actor)


async def delete(conn: asyncpg.Connection, incident_id: str, actor: Principal) -> IncidentRead:
    """Remove an incident, its timeline, comments and drafts (the last two by trigger, sql/022); returns
    the incident as it was (its timeline not read: `updates` empty)."""
    async with conn.transaction():
        row = await conn.fetchrow(queries.DELETE, incident_id)
        if row is None:
            raise not_found("incident", incident_id)
        await audit.record_by(conn, actor, "incident.delete", "incident", incident_id, {"title": row["title"]})
    return _incident_read(row, [])
