"""What GET /api/slo-definitions… answers: the built-in tier definitions and the stored ones, a
definition's status per service (engine figures, burn alerts, open violations), its violations.
A tier definition covers the active services of its tier; its violations are the tier engine's
(slo_violations), shown with the definition's alert names (warning/critical, burn-rate-fast/slow)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from app.errors import not_found
from app.formatting import pagination, utc_iso
from app.services import service as services
from app.slo.definitions import engine, queries, store
from app.slo.definitions.model import NAME, BurnRateAlert, Definition
from app.slo.definitions.store import Stored
from app.slo.definitions.tiers import BURN_NAMES, tier_definitions, tier_slo_keys

TIER_DEFINITIONS = {d.name: d for d in tier_definitions()}


def _decimals(data: Any, keys: tuple[str, ...] = ("target", "percentile", "factor", "value")) -> Any:
    """The definition's JSON with its decimal strings as numbers."""
    if isinstance(data, dict):
        return {k: Decimal(v) if k in keys and isinstance(v, str) else _decimals(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_decimals(v) for v in data]
    return data


def to_public(definition: Definition, stored: Stored | None) -> dict[str, Any]:
    return {
        **_decimals(definition.to_json()),
        "readOnly": stored is None,
        "source": "tier" if stored is None else stored.source,
        "createdAt": None if stored is None else utc_iso(stored.created_at),
        "updatedAt": None if stored is None else utc_iso(stored.updated_at),
        "updatedBy": None if stored is None else stored.updated_by,
    }


async def list_public(conn: asyncpg.Connection) -> dict[str, Any]:
    """The tier definitions first (read-only), then the stored ones by name."""
    stored = await store.list_definitions(conn)
    return {
        "definitions": [to_public(d, None) for d in TIER_DEFINITIONS.values()]
        + [to_public(s.definition, s) for s in stored]
    }


async def find(conn: asyncpg.Connection, name: str) -> tuple[Definition, Stored | None]:
    """A tier or stored definition by name; 404 when there is none."""
    if name in TIER_DEFINITIONS:
        return TIER_DEFINITIONS[name], None
    stored = await store.get(conn, name) if NAME.match(name) else None  # no other name can be stored
    if stored is None:
        raise not_found("SLO definition", name)
    return stored.definition, stored


async def services_of(conn: asyncpg.Connection, definition: Definition) -> list[asyncpg.Record]:
    """The active services the definition covers (a tier's: its tier's; else those named, or all)."""
    named = set(definition.services)
    return [
        s
        for s in await services.list_active(conn)
        if (s["tier"] == definition.tier if definition.tier else not named or s["id"] in named)
    ]


def tier_violation(row: asyncpg.Record | dict[str, Any], definition: Definition) -> dict[str, Any]:
    """A tier engine violation as a violation of its tier definition."""
    alert = BURN_NAMES.get(row["slo"]) or row["severity"].lower()
    return {**dict(row), "definition": definition.name, "alert": alert}


async def _open_violations(conn: asyncpg.Connection, definition: Definition, ids: list[str]) -> list[dict[str, Any]]:
    if definition.tier:
        rows = await conn.fetch(queries.TIER_OPEN, ids, tier_slo_keys(definition))
        return [tier_violation(r, definition) for r in rows]
    return [dict(r) for r in await conn.fetch(queries.OPEN_OF_DEFINITION, definition.name)]


def _burn_alerts(definition: Definition, fig: engine.Figures) -> list[dict[str, Any]]:
    found = []
    for alert in definition.alerts:
        if isinstance(alert, BurnRateAlert):
            long_rate = engine.burn_rate(definition, fig, alert.long_minutes)
            short_rate = engine.burn_rate(definition, fig, alert.short_minutes)
            found.append(
                {
                    "alert": alert.name,
                    "longMinutes": alert.long_minutes,
                    "shortMinutes": alert.short_minutes,
                    "factor": alert.factor,
                    "longRate": engine.round_rate(long_rate),
                    "shortRate": engine.round_rate(short_rate),
                    "burning": long_rate is not None
                    and short_rate is not None
                    and long_rate >= alert.factor
                    and short_rate >= alert.factor,
                }
            )
    return found


async def status(conn: asyncpg.Connection, definition: Definition, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """The definition's figures for each of its services at `now`."""
    covered = await services_of(conn, definition)
    ids = [s["id"] for s in covered]
    window, figures = await engine.figures(conn, definition, ids, now, zone)
    open_rows: dict[str, list[dict[str, Any]]] = {sid: [] for sid in ids}
    for row in await _open_violations(conn, definition, ids):
        if row["service_id"] in open_rows:
            open_rows[row["service_id"]].append(row)
    return {
        "definition": definition.name,
        "displayName": definition.display_name,
        "target": definition.target,
        "op": definition.op,
        "window": {
            "kind": definition.window.kind,
            "label": window.label,
            "start": utc_iso(window.start),
            "end": utc_iso(window.end),
            "minutes": window.minutes,
        },
        "asOf": utc_iso(now),
        "services": [
            {
                **engine.assess(definition, window, figures[s["id"]]),
                "serviceName": s["name"],
                "burnAlerts": _burn_alerts(definition, figures[s["id"]]),
                "openViolations": [
                    engine.violation_to_public(r, now) for r in sorted(open_rows[s["id"]], key=lambda r: r["id"])
                ],
            }
            for s in covered
        ],
    }


async def violations(
    conn: asyncpg.Connection,
    definition: Definition,
    now: datetime,
    *,
    service_id: str | None,
    state: str | None,
    page: int,
    limit: int,
) -> dict[str, Any]:
    """The definition's violations, newest first, one page."""
    is_open = None if state is None else state == "open"
    offset = (page - 1) * limit
    if definition.tier:
        ids = [s["id"] for s in await services_of(conn, definition)]
        keys = tier_slo_keys(definition)
        total = await conn.fetchval(queries.TIER_COUNT, keys, ids, service_id, is_open)
        rows = [
            tier_violation(r, definition)
            for r in await conn.fetch(queries.TIER_LIST, keys, ids, service_id, is_open, limit, offset)
        ]
    else:
        total = await conn.fetchval(queries.COUNT, definition.name, service_id, is_open)
        rows = [dict(r) for r in await conn.fetch(queries.LIST, definition.name, service_id, is_open, limit, offset)]
    return {
        "violations": [engine.violation_to_public(r, now) for r in rows],
        "pagination": pagination(page, limit, total),
    }
