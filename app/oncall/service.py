"""On-call schedules: load escalation.toml's `[[schedules]]`, sync them (the file owns the schedules and
overrides it names), the admin API's writes, and who is on call (app/oncall/rotation.py)."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from app.audit import service as audit
from app.config_files import load_tables
from app.errors import ApiError, not_found
from app.oncall import queries, rotation
from app.oncall.models import (
    MAX_SPAN_DAYS,
    OnCallRead,
    OverrideBody,
    OverrideRead,
    ScheduleBody,
    ScheduleCreate,
    ScheduleFile,
    ScheduleRead,
)


class ScheduleFileError(ValueError):
    """escalation.toml's schedules are invalid; the message names file, schedule and field."""


def load_schedules(path: Path) -> list[ScheduleFile]:
    return load_tables(path, "schedules", ScheduleFile, ScheduleFileError, "schedule")


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


def _columns(body: ScheduleBody) -> tuple[Any, ...]:
    return (body.name, body.time_zone, body.rotation, body.handoff_time, body.start_date, body.participants)


def rotation_of(row: asyncpg.Record) -> rotation.Rotation:
    return rotation.Rotation(
        row["time_zone"], row["rotation"], row["handoff_time"], row["start_date"], tuple(row["participants"])
    )


def overrides_of(rows: list[asyncpg.Record]) -> list[rotation.Override]:
    return [rotation.Override(r["id"], r["username"], r["starts_at"], r["ends_at"]) for r in rows]


async def sync_schedules(conn: asyncpg.Connection, schedules: list[ScheduleFile]) -> tuple[list[str], list[str]]:
    """Upsert the file's schedules and replace their file overrides; delete the file's schedules it no
    longer names (never the API's). Returns (changed, deleted) ids."""
    changed = []
    async with conn.transaction():
        for s in schedules:
            if await conn.fetchval(queries.UPSERT_CONFIG_SCHEDULE, s.id, *_columns(s), new_feed_token()):
                changed.append(s.id)
            await conn.execute(queries.DELETE_CONFIG_OVERRIDES, s.id)
            o = s.overrides
            await conn.execute(
                queries.INSERT_CONFIG_OVERRIDES,
                s.id,
                [x.username for x in o],
                [x.starts_at for x in o],
                [x.ends_at for x in o],
                [x.note for x in o],
            )
        deleted = [
            r["id"] for r in await conn.fetch(queries.DELETE_MISSING_CONFIG_SCHEDULES, [s.id for s in schedules])
        ]
    return changed, deleted


def on_call_read(segment: rotation.Segment) -> OnCallRead:
    return OnCallRead(
        username=segment.username, source=segment.source, starts_at=segment.starts_at, ends_at=segment.ends_at
    )


def segment_read(segment: rotation.Segment | None) -> OnCallRead | None:
    return None if segment is None else on_call_read(segment)


def _override_read(row: asyncpg.Record) -> OverrideRead:
    return OverrideRead(
        id=row["id"],
        username=row["username"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        note=row["note"],
        managed_by=row["managed_by"],
        created_by=row["created_by"],
    )


async def _read(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime, feed_url: str | None) -> ScheduleRead:
    overrides = await conn.fetch(queries.OVERRIDES_FROM, row["id"], now)
    on_call = rotation.on_call(rotation_of(row), overrides_of(overrides), now)
    return ScheduleRead(
        id=row["id"],
        name=row["name"],
        time_zone=row["time_zone"],
        rotation=row["rotation"],
        handoff_time=row["handoff_time"].strftime("%H:%M"),
        start_date=row["start_date"],
        participants=list(row["participants"]),
        managed_by=row["managed_by"],
        on_call_now=segment_read(on_call),
        overrides=[_override_read(r) for r in overrides],
        feed_url=feed_url,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def feed_path(row: asyncpg.Record) -> str:
    return f"/api/oncall/schedules/{row['id']}/calendar.ics?token={row['feed_token']}"


async def _row(conn: asyncpg.Connection, schedule_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(queries.GET_SCHEDULE, schedule_id)
    if row is None:
        raise not_found("on-call schedule", schedule_id)
    return row


async def list_schedules(conn: asyncpg.Connection, now: datetime, feed_base: str | None) -> list[ScheduleRead]:
    """Every schedule with who is on call now; `feed_base` (admins) adds the feed URLs."""
    rows = await conn.fetch(queries.LIST_SCHEDULES)
    return [await _read(conn, r, now, feed_base and feed_base + feed_path(r)) for r in rows]


async def get(conn: asyncpg.Connection, schedule_id: str, now: datetime, feed_base: str | None) -> ScheduleRead:
    row = await _row(conn, schedule_id)
    return await _read(conn, row, now, feed_base and feed_base + feed_path(row))


async def _check_users(conn: asyncpg.Connection, usernames: list[str], field: str) -> None:
    """422 naming the first username that is no active user (the API's writes; the file is trusted
    to name users created later, and a missing one is noted when a page would reach them)."""
    known = {r["username"].lower() for r in await conn.fetch(queries.USERS_NAMED, usernames) if r["is_active"]}
    for index, name in enumerate(usernames):
        if name.lower() not in known:
            where = f"{field}[{index}]" if field == "participants" else field
            raise ApiError(
                422,
                "validation_error",
                f"{where}: no active user {name!r}",
                [{"in": "body", "field": where, "message": f"no active user {name!r}"}],
            )


async def create(conn: asyncpg.Connection, body: ScheduleCreate, actor: Any, now: datetime) -> ScheduleRead:
    async with conn.transaction():
        await _check_users(conn, body.participants, "participants")
        row = await conn.fetchrow(queries.INSERT_SCHEDULE, body.id, *_columns(body), new_feed_token())
        if row is None:
            raise ApiError(
                409,
                "conflict",
                f"id: on-call schedule {body.id!r} exists",
                [{"in": "body", "field": "id", "message": "taken"}],
            )
        await audit.record_by(
            conn, actor, "oncall_schedule.create", "oncall_schedule", body.id, body.model_dump(mode="json")
        )
    return await _read(conn, row, now, None)


async def update(
    conn: asyncpg.Connection, schedule_id: str, body: ScheduleBody, actor: Any, now: datetime
) -> ScheduleRead:
    """Replace a schedule; one escalation.toml names is the file's again at the next `slamon migrate`."""
    async with conn.transaction():
        await _check_users(conn, body.participants, "participants")
        row = await conn.fetchrow(queries.UPDATE_SCHEDULE, schedule_id, *_columns(body))
        if row is None:
            raise not_found("on-call schedule", schedule_id)
        await audit.record_by(
            conn, actor, "oncall_schedule.update", "oncall_schedule", schedule_id, body.model_dump(mode="json")
        )
    return await _read(conn, row, now, None)


async def delete(conn: asyncpg.Connection, schedule_id: str, actor: Any) -> None:
    async with conn.transaction():
        if await conn.fetchval(queries.DELETE_SCHEDULE, schedule_id) is None:
            raise not_found("on-call schedule", schedule_id)
        await audit.record_by(conn, actor, "oncall_schedule.delete", "oncall_schedule", schedule_id)


async def rotate_feed_token(
    conn: asyncpg.Connection, schedule_id: str, actor: Any, now: datetime, base: str
) -> ScheduleRead:
    """A new feed URL; the old one stops working (a leaked link is revoked this way)."""
    async with conn.transaction():
        row = await conn.fetchrow(queries.ROTATE_FEED_TOKEN, schedule_id, new_feed_token())
        if row is None:
            raise not_found("on-call schedule", schedule_id)
        await audit.record_by(conn, actor, "oncall_schedule.feed_token", "oncall_schedule", schedule_id)
    return await _read(conn, row, now, base + feed_path(row))


async def add_override(conn: asyncpg.Connection, schedule_id: str, body: OverrideBody, actor: Any) -> OverrideRead:
    async with conn.transaction():
        await _row(conn, schedule_id)
        await _check_users(conn, [body.username], "username")
        row = await conn.fetchrow(
            queries.INSERT_OVERRIDE, schedule_id, body.username, body.starts_at, body.ends_at, body.note, actor.username
        )
        assert row is not None  # INSERT … RETURNING
        await audit.record_by(
            conn, actor, "oncall_override.create", "oncall_schedule", schedule_id, body.model_dump(mode="json")
        )
    return _override_read(row)


async def delete_override(conn: asyncpg.Connection, schedule_id: str, override_id: int, actor: Any) -> None:
    async with conn.transaction():
        managed_by = await conn.fetchval(queries.DELETE_OVERRIDE, schedule_id, override_id)
        if managed_by is None:
            raise not_found("override", f"{schedule_id}/{override_id}")
        await audit.record_by(
            conn, actor, "oncall_override.delete", "oncall_schedule", schedule_id, {"overrideId": override_id}
        )


def _window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ApiError(
            422,
            "validation_error",
            "end: must be after start",
            [{"in": "query", "field": "end", "message": "must be after start"}],
        )
    if end - start > timedelta(days=MAX_SPAN_DAYS):
        raise ApiError(
            422,
            "validation_error",
            f"end: at most {MAX_SPAN_DAYS} days after start",
            [{"in": "query", "field": "end", "message": f"at most {MAX_SPAN_DAYS} days after start"}],
        )


async def on_call_at(conn: asyncpg.Connection, schedule_id: str, at: datetime) -> rotation.Segment | None:
    """Who is on call for the schedule at `at` (None before its first handoff)."""
    row = await _row(conn, schedule_id)
    return await _on_call(conn, row, at)


async def _on_call(conn: asyncpg.Connection, row: asyncpg.Record, at: datetime) -> rotation.Segment | None:
    overrides = await conn.fetch(queries.OVERRIDES_BETWEEN, row["id"], at - timedelta(days=1), at + timedelta(days=1))
    return rotation.on_call(rotation_of(row), overrides_of(overrides), at)


async def on_call_for(conn: asyncpg.Connection, schedule_ids: list[str], at: datetime) -> dict[str, str | None]:
    """Schedule id -> the username on call at `at` (None: unknown schedule or nobody yet); for the engine."""
    rows = {r["id"]: r for r in await conn.fetch(queries.SCHEDULES_NAMED, schedule_ids)}
    found: dict[str, str | None] = {}
    for schedule_id in schedule_ids:
        segment = await _on_call(conn, rows[schedule_id], at) if schedule_id in rows else None
        found[schedule_id] = segment.username if segment else None
    return found


async def timeline(
    conn: asyncpg.Connection, schedule_id: str, start: datetime, end: datetime
) -> list[rotation.Segment]:
    _window(start, end)
    row = await _row(conn, schedule_id)
    overrides = await conn.fetch(queries.OVERRIDES_BETWEEN, schedule_id, start, end)
    return rotation.timeline(rotation_of(row), overrides_of(overrides), start, end)


async def feed_row(conn: asyncpg.Connection, schedule_id: str, token: str) -> asyncpg.Record:
    """The schedule whose feed token this is (constant-time compare); 404 otherwise, as for no schedule."""
    row = await conn.fetchrow(queries.GET_SCHEDULE, schedule_id)
    if row is None or not hmac.compare_digest(row["feed_token"].encode(), token.encode()):
        raise not_found("on-call schedule feed", schedule_id)
    return row
