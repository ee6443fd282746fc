"""Incident collaboration: comments, and per-user server-side drafts ('new' = the new-incident form)."""

from __future__ import annotations

import json
import uuid

import asyncpg

from app.audit import service as audit
from app.auth.service import Principal
from app.contract import Pagination
from app.errors import ApiError, not_found
from app.incidents import queries
from app.incidents.models import CommentPage, CommentRead, DraftData, DraftRead

NEW_DRAFT = "new"
MAX_DRAFT_BYTES = 64 * 1024


def _comment_read(row: asyncpg.Record) -> CommentRead:
    return CommentRead(
        id=str(row["id"]),
        incident_id=row["incident_id"],
        user_id=str(row["user_id"]) if row["user_id"] else None,
        user_name=row["user_name"],
        message=row["message"],
        timestamp=row["created_at"],
    )


async def _require_incident(conn: asyncpg.Connection, incident_id: str) -> None:
    if not await conn.fetchval(queries.EXISTS, incident_id):
        raise not_found("incident", incident_id)


async def list_comments(conn: asyncpg.Connection, incident_id: str, page: int, limit: int) -> CommentPage:
    """Oldest first, one page."""
    await _require_incident(conn, incident_id)
    total = await conn.fetchval(queries.COUNT_COMMENTS, incident_id)
    rows = await conn.fetch(queries.COMMENTS, incident_id, limit, (page - 1) * limit)
    return CommentPage(comments=[_comment_read(r) for r in rows], pagination=Pagination.of(page, limit, total))


async def add_comment(conn: asyncpg.Connection, incident_id: str, message: str, actor: Principal) -> CommentRead:
    async with conn.transaction():
        await _require_incident(conn, incident_id)
        row = await conn.fetchrow(
            queries.INSERT_COMMENT, incident_id, uuid.UUID(actor.user_id), actor.username, message
        )
        assert row is not None  # INSERT … RETURNING
        await audit.record_by(conn, actor, "incident.comment", "incident", incident_id, {"comment_id": row["id"]})
    return _comment_read(row)


def _draft_read(row: asyncpg.Record) -> DraftRead:
    return DraftRead(incident_id=row["incident_key"], data=json.loads(row["data"]), updated_at=row["updated_at"])


async def _draft_key(conn: asyncpg.Connection, incident_id: str) -> str:
    if incident_id != NEW_DRAFT:
        await _require_incident(conn, incident_id)
    return incident_id


async def save_draft(conn: asyncpg.Connection, user_id: str, incident_id: str, data: object) -> DraftRead:
    """Store (replace) a user's draft; raises pydantic's ValidationError for bad data."""
    draft = DraftData.model_validate(data if data is not None else {})
    encoded = draft.model_dump_json(exclude_none=True)
    if len(encoded) > MAX_DRAFT_BYTES:
        raise ApiError(413, "payload_too_large", f"draft over {MAX_DRAFT_BYTES} bytes")
    key = await _draft_key(conn, incident_id)
    row = await conn.fetchrow(queries.PUT_DRAFT, uuid.UUID(user_id), key, encoded)
    assert row is not None  # INSERT … ON CONFLICT DO UPDATE … RETURNING
    return _draft_read(row)


async def get_draft(conn: asyncpg.Connection, user_id: str, incident_id: str) -> DraftRead | None:
    row = await conn.fetchrow(queries.GET_DRAFT, uuid.UUID(user_id), incident_id)
    return None if row is None else _draft_read(row)


async def delete_draft(conn: asyncpg.Connection, user_id: str, incident_id: str) -> bool:
    return await conn.fetchval(queries.DELETE_DRAFT, uuid.UUID(user_id), incident_id) is not None
