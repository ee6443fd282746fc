"""The service catalog: load services.toml, validate it, sync it into the database; services created
and archived through the API (admin). The file owns the services it names (`managed_by = 'config'`),
the API those it created (`'api'`): the sync never touches the API's, and takes over an id both name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from app.audit import service as audit
from app.auth.service import Principal
from app.config_files import load_tables
from app.errors import ApiError, not_found
from app.formatting import utc_iso
from app.ingest import keys as ingest_keys
from app.net import ssrf
from app.rollups import service as rollups
from app.services import queries
from app.services.models import ServiceConfig, ServiceConfigRead


class CatalogError(ValueError):
    """services.toml is unreadable or invalid; the message names file, service and field."""


def load_catalog(path: Path) -> list[ServiceConfig]:
    """Parse and validate a services file; refuse it whole, naming the first problem."""
    return load_tables(path, "services", ServiceConfig, CatalogError, "service")


@dataclass
class SyncResult:
    inserted: list[str]
    updated: list[str]
    deactivated: list[str]


async def sync_catalog(conn: asyncpg.Connection, services: list[ServiceConfig]) -> SyncResult:
    """Upsert the catalog; deactivate the file's services it no longer lists (never the API's);
    invalidate rollups whose inputs changed."""
    result = SyncResult([], [], [])
    async with conn.transaction():
        for position, svc in enumerate(services):
            before = await conn.fetchrow(queries.ROLLUP_INPUTS, svc.id)
            row = await conn.fetchrow(
                queries.UPSERT,
                svc.id,
                svc.name,
                svc.description,
                svc.kind,
                svc.url,
                svc.interval_s,
                svc.timeout_s,
                svc.latency_target_ms,
                svc.tier,
                _check_json(svc),
                svc.allow_private,
                position,
            )
            if row is None:
                continue
            (result.inserted if row["inserted"] else result.updated).append(svc.id)
            if before and (before["interval_s"], before["latency_target_ms"]) != (
                svc.interval_s,
                svc.latency_target_ms,
            ):
                await rollups.invalidate_service(conn, svc.id)
        result.deactivated = [r["id"] for r in await conn.fetch(queries.DEACTIVATE_MISSING, [s.id for s in services])]
        for service_id in result.deactivated:
            await ingest_keys.revoke(
                conn, service_id, ingest_keys.Actor("slamon migrate"), reason="removed from services.toml (archived)"
            )
    return result


def _check_json(svc: ServiceConfig) -> str:
    return json.dumps(svc.check.model_dump(exclude_defaults=True))


def to_config_read(row: asyncpg.Record) -> ServiceConfigRead:
    """A service row as the admin routes show its configuration."""
    return ServiceConfigRead(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        kind=row["kind"],
        url=row["endpoint_url"],
        interval_s=row["interval_s"],
        timeout_s=float(row["timeout_s"]),
        latency_target_ms=row["latency_target_ms"],
        tier=row["tier"],
        check=json.loads(row["check_config"]),
        is_active=row["is_active"],
        managed_by=row["managed_by"],
    )


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422, "validation_error", f"{field}: {message}", [{"in": "body", "field": field, "message": message}]
    )


async def create(conn: asyncpg.Connection, svc: ServiceConfig, actor: Principal) -> ServiceConfigRead:
    """A new service owned by the API (probed from the probers' next catalog read); 409 if the id is taken."""
    # A literal address the prober would refuse is refused now; names are checked by the prober on
    # every connection (they may resolve differently by then).
    blocked = ssrf.check_host(urlsplit(svc.url).hostname or "", svc.allow_private) if svc.url else None
    if blocked:
        raise _invalid("url", blocked + ("" if "metadata" in blocked else "; set allow_private to probe it"))
    async with conn.transaction():
        row = await conn.fetchrow(
            queries.CREATE,
            svc.id,
            svc.name,
            svc.description,
            svc.kind,
            svc.url,
            svc.interval_s,
            svc.timeout_s,
            svc.latency_target_ms,
            svc.tier,
            _check_json(svc),
            svc.allow_private,
        )
        if row is None:
            raise _taken(svc.id, await conn.fetchrow(queries.GET, svc.id))
        # the check's headers and body may carry the target's credentials: named, never recorded
        await audit.record_by(
            conn,
            actor,
            "service.create",
            "service",
            svc.id,
            {**svc.model_dump(mode="json", exclude={"check"}), "check": sorted(svc.check.model_fields_set)},
        )
    return to_config_read(row)


def _taken(service_id: str, existing: asyncpg.Record | None) -> ApiError:
    owner = "the API" if existing and existing["managed_by"] == "api" else "services.toml"
    archived = ", archived (its history stays with the id)" if existing and not existing["is_active"] else ""
    message = f"service id {service_id!r} is taken: managed by {owner}{archived}"
    return ApiError(409, "conflict", message, [{"in": "body", "field": "id", "message": message}])


async def archive(conn: asyncpg.Connection, service_id: str, actor: Principal) -> ServiceConfigRead:
    """Stop monitoring a service the API created: inactive, its rows, incidents and SLA figures kept."""
    async with conn.transaction():
        row = await conn.fetchrow(queries.GET_FOR_UPDATE, service_id)
        if row is None:
            raise not_found("service", service_id)
        if row["managed_by"] == "config":
            raise ApiError(
                409,
                "conflict",
                f"service {service_id!r} is managed by services.toml: remove it there "
                "and run `slamon migrate` (which archives it)",
            )
        if not row["is_active"]:
            return to_config_read(row)  # archiving twice changes nothing
        row = await conn.fetchrow(queries.ARCHIVE, service_id)
        assert row is not None  # locked above
        await audit.record_by(conn, actor, "service.archive", "service", service_id, {"name": row["name"]})
        await ingest_keys.revoke(conn, service_id, ingest_keys.Actor.of(actor), reason="service archived")
    return to_config_read(row)


async def list_active(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Active services in display order."""
    return await conn.fetch(queries.LIST_ACTIVE)


async def get(conn: asyncpg.Connection, service_id: str) -> asyncpg.Record | None:
    """One service by id, active or not."""
    return await conn.fetchrow(queries.GET, service_id)


async def certificate_expiries(conn: asyncpg.Connection) -> dict[str, str]:
    """service_id -> the soonest TLS certificate expiry seen by the probers (ISO 8601, UTC)."""
    return {r["service_id"]: utc_iso(r["not_after"]) for r in await conn.fetch(queries.CERTIFICATE_EXPIRIES)}


async def existing_ids(conn: asyncpg.Connection, service_ids: list[str]) -> set[str]:
    """Which of these ids are known services."""
    return {r["id"] for r in await conn.fetch(queries.EXISTING_IDS, service_ids)}
