"""Stored SLO definitions (`slo_definitions`, sql/300): list, get, put (insert or replace, validated),
delete (soft: the row stays so that its violations keep naming it). The tier definitions are built in
(app/slo/definitions/tiers.py) and never stored: their names cannot be written. Every write is audited
(`slo_definition.put` / `slo_definition.delete`) in its transaction."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import asyncpg

from app.audit import service as audit
from app.slo.definitions import queries
from app.slo.definitions.model import Definition, DefinitionError
from app.slo.definitions.tiers import PREFIX

if TYPE_CHECKING:
    from app.audit.service import Actor

Source = Literal["api", "openslo", "example"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    definition: Definition
    source: str
    created_at: datetime
    updated_at: datetime
    updated_by: str | None


def _stored(row: asyncpg.Record) -> Stored:
    body = row["body"]
    data = json.loads(body) if isinstance(body, str) else body
    return Stored(Definition.from_json(data), row["source"], row["created_at"], row["updated_at"], row["updated_by"])


async def list_definitions(conn: asyncpg.Connection) -> list[Stored]:
    """The live definitions, by name; a row whose body cannot be read (written around `put`) is
    logged and left out, so that it never stops the others' evaluation."""
    found = []
    for row in await conn.fetch(queries.LIST_DEFINITIONS):
        try:
            found.append(_stored(row))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            log.exception("SLO definition %r cannot be read; left out", row["name"])
    return found


async def get(conn: asyncpg.Connection, name: str) -> Stored | None:
    """A live definition by name; None when there is none, or it cannot be read (logged)."""
    row = await conn.fetchrow(queries.GET_DEFINITION, name)
    if row is None:
        return None
    try:
        return _stored(row)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        log.exception("SLO definition %r cannot be read", name)
        return None


def validate(definition: Definition) -> Definition:
    """Definition.check, and a name outside the tier definitions' (DefinitionError)."""
    definition.check()
    if definition.name.startswith(PREFIX) or definition.tier is not None:
        raise DefinitionError("name", f"names starting with {PREFIX!r} belong to the built-in tier SLOs")
    return definition


async def put(conn: asyncpg.Connection, definition: Definition, source: Source, actor: Actor | None = None) -> bool:
    """Insert or replace the definition (DefinitionError when it is not valid); whether it was created
    (a deleted definition of the same name is taken over: created). `actor` None: the system (demo)."""
    validate(definition)
    body = json.dumps(definition.to_json())
    who = actor.username if actor is not None else "system"
    async with conn.transaction():
        created = not await conn.fetchval(queries.LIVE_FOR_UPDATE, definition.name)
        await conn.execute(queries.PUT_DEFINITION, definition.name, body, source, who)
        details = {"source": source, "created": created, "definition": definition.to_json()}
        if actor is not None:
            await audit.record_by(conn, actor, "slo_definition.put", "slo_definition", definition.name, details)
        else:
            await audit.record(
                conn, "slo_definition.put", actor_name=who, target_type="slo_definition",
                target_id=definition.name, details=details,
            )  # fmt: skip
    return created


async def delete(conn: asyncpg.Connection, name: str, actor: Actor | None = None) -> bool:
    """Soft-delete the definition; False when there is none of that name. Its open violations end at
    the worker's next run (engine.close_deleted)."""
    who = actor.username if actor is not None else "system"
    async with conn.transaction():
        deleted = await conn.fetchval(queries.DELETE_DEFINITION, name, who)
        if deleted is None:
            return False
        if actor is not None:
            await audit.record_by(conn, actor, "slo_definition.delete", "slo_definition", name, {})
        else:
            await audit.record(
                conn, "slo_definition.delete", actor_name=who, target_type="slo_definition", target_id=name
            )
    return True
