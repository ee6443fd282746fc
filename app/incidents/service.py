"""Incidents as the public read API shows them."""
from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from app.formatting import format_duration
from app.incidents import queries
from app.periods import Period, day_start, local_date

NO_INCIDENT_MESSAGE = "특별한 문제가 없습니다."
PREPARING_MESSAGE = "데이터를 준비 중입니다."


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat().replace("+00:00", "Z")


def update_to_public(row) -> dict:
    return {"id": str(row["id"]), "incidentId": row["incident_id"], "status": row["status"],
            "description": row["description"], "author": row["author"], "createdAt": _iso(row["created_at"])}


def to_public(row, updates: list) -> dict:
    return {
        "id": row["id"], "title": row["title"], "description": row["description"], "status": row["status"],
        "severity": row["severity"], "priority": row["priority"], "reporter": row["reporter"],
        "detectionCriteria": row["detection_criteria"], "affectedServices": list(row["affected_services"]),
        "version": row["version"], "createdAt": _iso(row["created_at"]), "updatedAt": _iso(row["updated_at"]),
        "resolvedAt": _iso(row["resolved_at"]),
        "resolutionTime": format_duration((row["resolved_at"] - row["created_at"]).total_seconds())
        if row["resolved_at"] else None,
        "updates": [update_to_public(u) for u in updates],
    }


async def _with_updates(conn: asyncpg.Connection, rows) -> list[dict]:
    updates: dict[str, list] = {}
    for u in await conn.fetch(queries.UPDATES_OF, [r["id"] for r in rows]):
        updates.setdefault(u["incident_id"], []).append(u)
    return [to_public(r, updates.get(r["id"], [])) for r in rows]


async def list_active(conn: asyncpg.Connection) -> list[dict]:
    """Incidents not yet resolved, newest first, with their update timelines."""
    return await _with_updates(conn, await conn.fetch(queries.LIST_ACTIVE))


async def get(conn: asyncpg.Connection, incident_id: str) -> dict | None:
    row = await conn.fetchrow(queries.GET, incident_id)
    return None if row is None else (await _with_updates(conn, [row]))[0]


async def past(conn: asyncpg.Connection, days: int, page: int, limit: int, now: datetime, zone) -> dict:
    """The last `days` days, newest first, `limit` days a page, each with the incidents created that day."""
    today = local_date(now, zone)
    total_pages = max(1, -(-days // limit))
    newest = today - timedelta(days=(page - 1) * limit)
    count = max(0, min(limit, days - (page - 1) * limit))
    page_days = [newest - timedelta(days=i) for i in range(count)]
    result_days = []
    if page_days:
        period = Period(page_days[-1], page_days[0] + timedelta(days=1), zone, "")
        incidents = await _with_updates(conn, await conn.fetch(queries.LIST_CREATED_IN, period.start, period.end))
        first_check = await conn.fetchval(queries.FIRST_CHECK)
        by_day: dict = {}
        for inc in incidents:
            by_day.setdefault(local_date(datetime.fromisoformat(inc["createdAt"]), zone), []).append(inc)
        for day in page_days:
            entry = {"date": day.isoformat(), "incidents": by_day.get(day)}
            if entry["incidents"] is None:
                monitored = first_check is not None and first_check < day_start(day + timedelta(days=1), zone)
                entry["noIncidentMessage"] = NO_INCIDENT_MESSAGE if monitored else PREPARING_MESSAGE
            result_days.append(entry)
    return {
        "days": result_days,
        "pagination": {"page": page, "limit": limit, "totalDays": days, "totalPages": total_pages,
                       "hasNext": page < total_pages},
    }
