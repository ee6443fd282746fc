"""On-call schedules over REST (docs/api.md, On-call): reads and "who is on call" for staff, writes for
admins (they decide who is woken), and the iCalendar feed, whose URL token is the credential
(calendar apps cannot send headers)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app import deps
from app.auth import permissions
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.config import Settings
from app.contract import errors
from app.oncall import calendar, service
from app.oncall.models import (
    Deleted,
    Instant,
    OnCallAt,
    OverrideBody,
    OverrideOne,
    ScheduleBody,
    ScheduleCreate,
    ScheduleList,
    ScheduleOne,
    Timeline,
)

router = APIRouter(tags=["on-call"], dependencies=[Depends(current_user)])
feed_router = APIRouter(tags=["on-call"])
ADMIN_PERMISSION = "notifications:write"
admin = require(ADMIN_PERMISSION)
staff = require("incidents:read")
ScheduleIdPath = Path(max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
BASE = "/api/oncall/schedules"


def _feed_base(request: Request, user: Principal) -> str | None:
    """Where feed URLs start, for admins only (the URL is a credential)."""
    if not permissions.allows(user.role, ADMIN_PERMISSION):
        return None
    settings: Settings = request.app.state.settings
    return settings.public_url("").rstrip("/")


@router.get(BASE, response_model=ScheduleList, summary="On-call schedules, each with who is on call now (staff)")
async def list_schedules(
    request: Request,
    user: Principal = Depends(staff),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> ScheduleList:
    return ScheduleList(schedules=await service.list_schedules(conn, now, _feed_base(request, user)))


@router.post(
    BASE, status_code=201, response_model=ScheduleOne, responses=errors(409, 422), summary="Create a schedule (admin)"
)
async def create_schedule(
    request: Request,
    body: ScheduleCreate,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> ScheduleOne:
    created = await service.create(conn, body, actor, now)
    return ScheduleOne(schedule=await service.get(conn, created.id, now, _feed_base(request, actor)))


@router.get(BASE + "/{schedule_id}", response_model=ScheduleOne, responses=errors(404), summary="One schedule (staff)")
async def get_schedule(
    request: Request,
    schedule_id: str = ScheduleIdPath,
    user: Principal = Depends(staff),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> ScheduleOne:
    return ScheduleOne(schedule=await service.get(conn, schedule_id, now, _feed_base(request, user)))


@router.put(
    BASE + "/{schedule_id}",
    response_model=ScheduleOne,
    responses=errors(404, 422),
    summary="Replace a schedule's rotation (admin); its overrides stay",
)
async def update_schedule(
    request: Request,
    body: ScheduleBody,
    schedule_id: str = ScheduleIdPath,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> ScheduleOne:
    await service.update(conn, schedule_id, body, actor, now)
    return ScheduleOne(schedule=await service.get(conn, schedule_id, now, _feed_base(request, actor)))


@router.delete(
    BASE + "/{schedule_id}", response_model=Deleted, responses=errors(404), summary="Delete a schedule (admin)"
)
async def delete_schedule(
    schedule_id: str = ScheduleIdPath,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Deleted:
    await service.delete(conn, schedule_id, actor)
    return Deleted(success=True)


@router.post(
    BASE + "/{schedule_id}/feed-token",
    response_model=ScheduleOne,
    responses=errors(404),
    summary="Issue a new iCalendar feed URL; the old one stops working (admin)",
)
async def rotate_feed_token(
    request: Request,
    schedule_id: str = ScheduleIdPath,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> ScheduleOne:
    base = _feed_base(request, actor) or ""
    return ScheduleOne(schedule=await service.rotate_feed_token(conn, schedule_id, actor, now, base))


@router.get(
    BASE + "/{schedule_id}/on-call",
    response_model=OnCallAt,
    responses=errors(404),
    summary="Who is on call now, or at `at` (staff)",
)
async def on_call(
    schedule_id: str = ScheduleIdPath,
    at: Instant | None = Query(None, description="an instant with its offset; default now"),
    user: Principal = Depends(staff),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> OnCallAt:
    when = at or now
    segment = await service.on_call_at(conn, schedule_id, when)
    return OnCallAt(schedule_id=schedule_id, at=when, on_call=service.segment_read(segment))


@router.get(
    BASE + "/{schedule_id}/timeline",
    response_model=Timeline,
    responses=errors(404),
    summary="Who is on call over [start, end), overrides applied (staff; at most 92 days)",
)
async def timeline(
    schedule_id: str = ScheduleIdPath,
    start: Instant | None = Query(None, description="default now"),
    end: Instant | None = Query(None, description="default start + 14 days"),
    user: Principal = Depends(staff),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> Timeline:
    begins = start or now
    ends = end or begins + timedelta(days=14)
    segments = await service.timeline(conn, schedule_id, begins, ends)
    return Timeline(
        schedule_id=schedule_id, start=begins, end=ends, segments=[service.on_call_read(s) for s in segments]
    )


@router.post(
    BASE + "/{schedule_id}/overrides",
    status_code=201,
    response_model=OverrideOne,
    responses=errors(404, 422),
    summary="Put a user on call for a time range instead of the rotation's (admin)",
)
async def add_override(
    body: OverrideBody,
    schedule_id: str = ScheduleIdPath,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> OverrideOne:
    return OverrideOne(override=await service.add_override(conn, schedule_id, body, actor))


@router.delete(
    BASE + "/{schedule_id}/overrides/{override_id}",
    response_model=Deleted,
    responses=errors(404),
    summary="Remove an override (admin)",
)
async def delete_override(
    override_id: int = Path(ge=1, le=2**62),
    schedule_id: str = ScheduleIdPath,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Deleted:
    await service.delete_override(conn, schedule_id, override_id, actor)
    return Deleted(success=True)


@feed_router.get(
    BASE + "/{schedule_id}/calendar.ics",
    summary="The schedule's iCalendar feed (RFC 5545); the token from feedUrl is the credential",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, **errors(404)},
)
async def calendar_feed(
    request: Request,
    schedule_id: str = ScheduleIdPath,
    token: str = Query(min_length=1, max_length=100),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> Response:
    row = await service.feed_row(conn, schedule_id, token)
    start, end = calendar.feed_window(now)
    segments = await service.timeline(conn, schedule_id, start, end)
    host = urlsplit(request.app.state.settings.public_base_url).hostname or "slamon"
    body = calendar.feed(schedule_id, row["name"], segments, now, host)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": "private, max-age=300",
            "Content-Disposition": f'inline; filename="{schedule_id}.ics"',
        },
    )
