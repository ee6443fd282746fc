"""Escalation policies: load escalation.toml (refused whole, naming file, policy and field), sync it
into the database (the file owns the policies it names), and the admin API's reads and writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg

from app.audit import service as audit
from app.config_files import load_tables
from app.errors import ApiError, not_found
from app.escalation import queries
from app.escalation.models import PolicyBody, PolicyCreate


class PolicyFileError(ValueError):
    """escalation.toml is unreadable or invalid; the message names file, policy and field."""


def load_policies(path: Path) -> list[PolicyCreate]:
    return load_tables(path, "policies", PolicyCreate, PolicyFileError, "policy")


def _levels_json(body: PolicyBody) -> str:
    return json.dumps(
        [
            {
                "delaySeconds": lv.delay_seconds,
                "subscriptions": lv.subscriptions,
                "users": lv.users,
                "schedules": lv.schedules,
                "priorities": lv.priorities,
            }
            for lv in body.levels
        ]
    )


def _columns(body: PolicyBody) -> tuple[Any, ...]:
    return (body.name, body.position, body.enabled, body.priorities, body.services, _levels_json(body))


async def sync_policies(conn: asyncpg.Connection, policies: list[PolicyCreate]) -> tuple[list[str], list[str]]:
    """Upsert the file's policies; delete the file's policies it no longer names (never the API's).
    Returns (changed, deleted) ids."""
    async with conn.transaction():
        changed = [
            r["id"]
            for p in policies
            for r in [await conn.fetchrow(queries.UPSERT_CONFIG_POLICY, p.id, *_columns(p))]
            if r
        ]
        deleted = [r["id"] for r in await conn.fetch(queries.DELETE_MISSING_CONFIG_POLICIES, [p.id for p in policies])]
    return changed, deleted


def to_read(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "position": row["position"],
        "enabled": row["enabled"],
        "priorities": list(row["priorities"]),
        "services": list(row["service_ids"]),
        "levels": json.loads(row["levels"]),
        "managedBy": row["managed_by"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


async def list_policies(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [to_read(r) for r in await conn.fetch(queries.LIST_POLICIES)]


async def get(conn: asyncpg.Connection, policy_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(queries.GET_POLICY, policy_id)
    if row is None:
        raise not_found("escalation policy", policy_id)
    return to_read(row)


async def create(conn: asyncpg.Connection, body: PolicyCreate, actor: Any) -> dict[str, Any]:
    async with conn.transaction():
        row = await conn.fetchrow(queries.INSERT_POLICY, body.id, *_columns(body))
        if row is None:
            raise ApiError(
                409,
                "conflict",
                f"id: escalation policy {body.id!r} exists",
                [{"in": "body", "field": "id", "message": "taken"}],
            )
        await audit.record_by(conn, actor, "escalation_policy.create", "escalation_policy", body.id, body.model_dump())
    return to_read(row)


async def update(conn: asyncpg.Connection, policy_id: str, body: PolicyBody, actor: Any) -> dict[str, Any]:
    """Replace a policy; one escalation.toml names is the file's until the file stops naming it, but an
    edit here holds until the next `slamon migrate` (said in docs/operations.md)."""
    async with conn.transaction():
        row = await conn.fetchrow(queries.UPDATE_POLICY, policy_id, *_columns(body))
        if row is None:
            raise not_found("escalation policy", policy_id)
        await audit.record_by(
            conn, actor, "escalation_policy.update", "escalation_policy", policy_id, body.model_dump()
        )
    return to_read(row)


async def delete(conn: asyncpg.Connection, policy_id: str, actor: Any) -> None:
    async with conn.transaction():
        if await conn.fetchval(queries.DELETE_POLICY, policy_id) is None:
            raise not_found("escalation policy", policy_id)
        await audit.record_by(conn, actor, "escalation_policy.delete", "escalation_policy", policy_id)
