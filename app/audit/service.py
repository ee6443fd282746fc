"""Write and read the audit trail. Writes join the caller's transaction, so only committed actions appear."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from app.audit import queries
from app.audit.models import AuditEntryRead, AuditPage
from app.contract import Pagination


class Actor(Protocol):
    """Who acted: a signed-in user (app.auth.service.Principal) or a set-up step acting as one
    (app.demo.paging.DemoActor)."""

    @property
    def user_id(self) -> str | None: ...
    @property
    def username(self) -> str: ...
    @property
    def ip(self) -> str: ...


async def record(
    conn: asyncpg.Connection,
    action: str,
    *,
    actor_id: str | None = None,
    actor_name: str = "",
    target_type: str = "",
    target_id: str = "",
    ip: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry."""
    await conn.execute(
        queries.INSERT,
        actor_id,
        actor_name,
        action,
        target_type,
        str(target_id),
        ip,
        json.dumps(details or {}, default=str, ensure_ascii=False),
    )


async def record_many(
    conn: asyncpg.Connection,
    action: str,
    *,
    actor_name: str,
    target_type: str,
    target_ids: list[str],
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry per target, all alike but for the target (one round trip)."""
    encoded = json.dumps(details or {}, default=str, ensure_ascii=False)
    await conn.executemany(
        queries.INSERT, [(None, actor_name, action, target_type, str(tid), "", encoded) for tid in target_ids]
    )


async def record_by(
    conn: asyncpg.Connection,
    principal: Actor,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an entry for an actor's action."""
    await record(
        conn,
        action,
        actor_id=principal.user_id,
        actor_name=principal.username,
        target_type=target_type,
        target_id=target_id,
        ip=principal.ip,
        details=details,
    )


def _to_read(row: asyncpg.Record) -> AuditEntryRead:
    return AuditEntryRead(
        id=row["id"],
        at=row["at"],
        actorId=str(row["actor_id"]) if row["actor_id"] else None,
        actorName=row["actor_name"],
        action=row["action"],
        targetType=row["target_type"],
        targetId=row["target_id"],
        ip=row["ip"],
        details=json.loads(row["details"]),
    )


async def list_entries(
    conn: asyncpg.Connection,
    *,
    actor: str | None,
    action: str | None,
    target_type: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
    page: int,
    limit: int,
) -> AuditPage:
    """Newest first, filtered, one page."""
    filters = (actor, action, target_type, target_id, since, until)
    total = await conn.fetchval(queries.COUNT, *filters)
    rows = await conn.fetch(queries.LIST, *filters, limit, (page - 1) * limit)
    return AuditPage(entries=[_to_read(r) for r in rows], pagination=Pagination.of(page, limit, total))
