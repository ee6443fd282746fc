"""Maintenance windows (list, get, create, update, delete) and runtime edits of a service.

Windows are applied when SLA figures are read (app/sla), so changing one needs no rollup refresh.
Service edits take effect at once (probers re-read the catalog). For a service services.toml names
(`managed_by = 'config'`) they last until the next `slamon migrate`, which writes the file's values
back: the catalog is configuration as code, the API is for urgent changes between deploys. A service
created through the API (`'api'`, app/services) keeps its edits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import asyncpg

from app.audit import service as audit
from app.auth.service import Principal
from app.contract import Pagination
from app.errors import not_found
from app.incidents.service import check_services
from app.maintenance import queries
from app.maintenance.models import (
    MaintenanceCreate,
    MaintenanceUpdate,
    ServiceEdit,
    ServiceEdited,
    WindowPage,
    WindowRead,
)
from app.notifications import outbox
from app.rollups import service as rollups
from app.services.service import to_config_read

EDIT_NOTES = {
    "config": "services.toml owns this service: the next `slamon migrate` restores its values over this edit",
    "api": "created through the API: `slamon migrate` keeps this edit (unless services.toml comes to name this id)",
}


def to_read(row: asyncpg.Record) -> WindowRead:
    return WindowRead(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        affected_services=list(row["affected_services"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        created_at=row["created_at"],
        announced_at=row["announced_at"],
        excluded_from_sla=row["excluded"],
        exclusion_reason=row["exclusion_reason"],
    )


def notice_rule(starts_at: datetime, announced_at: datetime, notice: timedelta) -> tuple[bool, str]:
    """Whether a window leaves the SLA figures (docs/sla-math.md, the maintenance notice rule), and why."""
    hours = notice.total_seconds() / 3600
    lead_hours = (starts_at - announced_at).total_seconds() / 3600
    if lead_hours >= hours:
        return True, f"announced {lead_hours:.1f} h before it starts (notice: {hours:g} h)"
    if lead_hours <= 0:
        return False, f"announced after it started: counted as ordinary time (notice: {hours:g} h)"
    return False, f"announced only {lead_hours:.1f} h before it starts: counted as ordinary time (notice: {hours:g} h)"


async def list_windows(conn: asyncpg.Connection, active_after: datetime | None, page: int, limit: int) -> WindowPage:
    total = await conn.fetchval(queries.COUNT, active_after)
    rows = await conn.fetch(queries.LIST, active_after, limit, (page - 1) * limit)
    return WindowPage(windows=[to_read(r) for r in rows], pagination=Pagination.of(page, limit, total))


async def get(conn: asyncpg.Connection, window_id: int) -> WindowRead:
    row = await conn.fetchrow(queries.GET, window_id)
    if row is None:
        raise not_found("maintenance window", str(window_id))
    return to_read(row)


async def create(
    conn: asyncpg.Connection, data: MaintenanceCreate, actor: Principal, now: datetime, notice: timedelta
) -> WindowRead:
    """Schedule a window: announced now (status page, feeds, subscribers), excluded by the notice rule."""
    await check_services(conn, data.affected_services)
    excluded, reason = notice_rule(data.starts_at, now, notice)
    async with conn.transaction():
        row = await conn.fetchrow(
            queries.INSERT,
            data.title,
            data.description,
            data.affected_services,
            data.starts_at,
            data.ends_at,
            now,
            excluded,
            reason,
        )
        assert row is not None  # INSERT … RETURNING
        await audit.record_by(
            conn, actor, "maintenance.create", "maintenance", str(row["id"]), data.model_dump(mode="json")
        )
        await outbox.maintenance_scheduled(conn, row)
    return to_read(row)


async def update(
    conn: asyncpg.Connection, window_id: int, data: MaintenanceUpdate, actor: Principal, notice: timedelta
) -> WindowRead:
    """Replace a window; the notice rule is judged again from its original announcement."""
    await check_services(conn, data.affected_services)
    async with conn.transaction():
        announced_at = await conn.fetchval(queries.ANNOUNCED_AT, window_id)
        if announced_at is None:
            raise not_found("maintenance window", str(window_id))
        excluded, reason = notice_rule(data.starts_at, announced_at, notice)
        row = await conn.fetchrow(
            queries.UPDATE,
            window_id,
            data.title,
            data.description,
            data.affected_services,
            data.starts_at,
            data.ends_at,
            excluded,
            reason,
        )
        if row is None:
            raise not_found("maintenance window", str(window_id))
        await audit.record_by(
            conn, actor, "maintenance.update", "maintenance", str(window_id), data.model_dump(mode="json")
        )
    return to_read(row)


async def delete(conn: asyncpg.Connection, window_id: int, actor: Principal) -> None:
    async with conn.transaction():
        title = await conn.fetchval(queries.DELETE, window_id)
        if title is None:
            raise not_found("maintenance window", str(window_id))
        await audit.record_by(conn, actor, "maintenance.delete", "maintenance", str(window_id), {"title": title})


async def edit_service(conn: asyncpg.Connection, service_id: str, data: ServiceEdit, actor: Principal) -> ServiceEdited:
    """Change the given fields now; invalidate rollups when their inputs (interval, latency target) change.
    The answer says how long the edit lasts (EDIT_NOTES, by who owns the service)."""
    given = data.model_dump(exclude_unset=True, exclude_none=True)
    async with conn.transaction():
        row = await conn.fetchrow(queries.SERVICE_FOR_UPDATE, service_id)
        if row is None:
            raise not_found("service", service_id)
        check = json.dumps(data.check.model_dump(exclude_defaults=True)) if data.check else row["check_config"]
        updated = await conn.fetchrow(
            queries.SERVICE_UPDATE,
            service_id,
            given.get("name", row["name"]),
            given.get("description", row["description"]),
            given.get("interval_s", row["interval_s"]),
            given.get("timeout_s", row["timeout_s"]),
            given.get("latency_target_ms", row["latency_target_ms"]),
            given.get("tier", row["tier"]),
            check,
        )
        assert updated is not None  # locked above
        if (updated["interval_s"], updated["latency_target_ms"]) != (row["interval_s"], row["latency_target_ms"]):
            await rollups.invalidate_service(conn, service_id)
        await audit.record_by(
            conn,
            actor,
            "service.update",
            "service",
            service_id,
            {"fields": sorted(given), **{k: v for k, v in given.items() if k != "check"}},
        )
    return ServiceEdited(service=to_config_read(updated), note=EDIT_NOTES[updated["managed_by"]])
