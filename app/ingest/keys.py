"""Ingest keys: random secrets (`slk.<service>.<43 characters>`) stored only as their SHA-256 hash,
several per service (a rotation may overlap), revocable, every change in the audit log.

Keys of before sql/112 were derived from SLAMON_SECRET_KEY (HMAC of service and version) and kept
nowhere; they still authenticate until rotated or revoked, and are adopted as a hash on first use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import asyncpg

from app.audit import service as audit
from app.auth.service import Principal
from app.contract import JsonObject
from app.ingest import queries
from app.ingest.models import IngestKeyList, IngestKeyRead

PREFIX_CHARS = 6  # of the random part, shown in listings to tell keys apart


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _prefix(key: str) -> str:
    service_part, _, random_part = key.rpartition(".")
    return f"{service_part}.{random_part[:PREFIX_CHARS]}…"


def derive_key(secret: str, service_id: str, version: int) -> str:
    """A key of before sql/112 (still accepted until the service's keys are rotated or revoked)."""
    mac = hmac.new(secret.encode(), f"ingest:{service_id}:{version}".encode(), hashlib.sha256).digest()
    return f"slk.{service_id}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


@dataclass
class Actor:
    """Who changes keys, as the audit log records them: a signed-in user, or the CLI's operator."""

    name: str
    user_id: str | None = None
    ip: str = ""

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.username, principal.user_id, principal.ip)


def _read(row: asyncpg.Record) -> IngestKeyRead:
    return IngestKeyRead(
        id=row["id"],
        service_id=row["service_id"],
        prefix=row["key_prefix"],
        derived=row["derived"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        revoked_at=row["revoked_at"],
        revoked_by=row["revoked_by"],
        active=row["revoked_at"] is None,
    )


async def _audit(conn: asyncpg.Connection, actor: Actor, action: str, service_id: str, details: JsonObject) -> None:
    await audit.record(
        conn,
        action,
        actor_id=actor.user_id,
        actor_name=actor.name,
        target_type="service",
        target_id=service_id,
        ip=actor.ip,
        details=details,
    )


async def _revoke(conn: asyncpg.Connection, service_id: str, actor: Actor, key_id: int | None = None) -> list[str]:
    rows = await conn.fetch(queries.REVOKE_KEYS, service_id, actor.name, key_id)
    revoked = [r["key_prefix"] for r in rows]
    if key_id is None and await conn.fetch(queries.FORGET_DERIVED_KEY, service_id):
        revoked.append(f"slk.{service_id} (derived key of before sql/112, never used since)")
    return revoked


async def issue(
    conn: asyncpg.Connection, service_id: str, actor: Actor, *, revoke_others: bool = True
) -> tuple[str, IngestKeyRead]:
    """A new key for the service (shown this once), revoking its other keys unless told to keep them."""
    key = f"slk.{service_id}.{secrets.token_urlsafe(32)}"
    async with conn.transaction():
        revoked = await _revoke(conn, service_id, actor) if revoke_others else []
        row = await conn.fetchrow(queries.INSERT_KEY, service_id, _hash(key), _prefix(key), actor.name)
        if row is None:  # INSERT ... RETURNING always returns the row
            raise RuntimeError(f"ingest key for {service_id} not stored")
        await _audit(
            conn,
            actor,
            "ingest_key.rotate" if revoke_others else "ingest_key.create",
            service_id,
            {"key": row["key_prefix"], "key_id": row["id"], "revoked": revoked},
        )
    return key, _read(row)


async def revoke(
    conn: asyncpg.Connection, service_id: str, actor: Actor, key_id: int | None = None, reason: str = ""
) -> list[str]:
    """Revoke one key of the service, or all of them; the prefixes of those revoked (audited)."""
    async with conn.transaction():
        revoked = await _revoke(conn, service_id, actor, key_id)
        if revoked:
            await _audit(
                conn,
                actor,
                "ingest_key.revoke",
                service_id,
                {
                    "revoked": revoked,
                    **({"key_id": key_id} if key_id else {}),
                    **({"reason": reason} if reason else {}),
                },
            )
    return revoked


async def list_keys(conn: asyncpg.Connection, service_id: str) -> IngestKeyList:
    """The service's keys, newest first (never the keys themselves); whether a derived key still works."""
    return IngestKeyList(
        keys=[_read(r) for r in await conn.fetch(queries.LIST_KEYS, service_id)],
        derived_key_active=await conn.fetchval(queries.HAS_DERIVED_KEY, service_id),
    )


async def authenticate(conn: asyncpg.Connection, secret: str, key: str) -> str | None:
    """The service id a key belongs to, or None when it is unknown, revoked, or its service archived."""
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != "slk" or not parts[1] or not parts[2]:
        return None
    digest = _hash(key)
    row = await conn.fetchrow(queries.KEY_BY_HASH, digest)
    if row is not None:
        return row["service_id"] if row["revoked_at"] is None and row["is_active"] else None
    return await _adopt_derived(conn, secret, parts[1], key, digest)


async def _adopt_derived(conn: asyncpg.Connection, secret: str, service_id: str, key: str, digest: bytes) -> str | None:
    version = await conn.fetchval(queries.DERIVED_KEY_VERSION, service_id)
    if version is None or not hmac.compare_digest(derive_key(secret, service_id, version).encode(), key.encode()):
        return None
    async with conn.transaction():
        await conn.execute(queries.ADOPT_DERIVED_KEY, service_id, digest, _prefix(key))
    return await authenticate(conn, secret, key)
