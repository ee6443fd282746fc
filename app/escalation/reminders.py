"""Acknowledged but quiet (the PRD: an open incident is updated every 30 minutes): an acknowledged open
incident without an update for `reminder_s` reminds the subscriptions paged; still quiet `resume_s`
after that reminder, its escalation resumes: the acknowledgement is lifted (kept in the timeline) and
the next level is due at once, then the later levels at their delays from the resumption.
An incident update, a new acknowledgement or its resolution ends the quiet."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from app.escalation import queries
from app.escalation.timeline import record, send
from app.formatting import utc_iso
from app.incidents import service as incidents


async def remind(conn: asyncpg.Connection, now: datetime, reminder_s: float, resume_s: float = 0) -> list[str]:
    """Remind the paged subscriptions of acknowledged open incidents without an update for
    `reminder_s` (again every `reminder_s` while it stays quiet, unless escalation resumes after one:
    `resume_s` > 0 and a level left); 0: never."""
    if reminder_s <= 0:
        return []
    reminded = []
    async with conn.transaction():
        for row in await conn.fetch(queries.TO_REMIND, now, float(reminder_s), resume_s > 0):
            incident_id = row["incident_id"]
            incident = await incidents.get(conn, incident_id)
            assert incident is not None
            quiet_since = row["quiet_since"]
            sent = await send(
                conn,
                f"escalation:{incident_id}:reminder:{int(quiet_since.timestamp())}",
                "escalation.reminder",
                incident,
                {"quietSince": utc_iso(quiet_since), "reminderSeconds": reminder_s},
                list(row["paged"]),
                now,
            )
            await conn.execute(queries.REMINDED, incident_id, now)
            await record(
                conn, incident_id, now, "reminded", {"quietSince": utc_iso(quiet_since), "notified": len(sent)}
            )
            reminded.append(incident_id)
    return reminded


async def resume(conn: asyncpg.Connection, now: datetime, resume_s: float) -> list[str]:
    """Resume the escalations of acknowledged incidents still quiet `resume_s` after their reminder, at
    the next level (none left: they keep being reminded); 0: never."""
    if resume_s <= 0:
        return []
    resumed = []
    async with conn.transaction():
        for row in await conn.fetch(queries.TO_RESUME, now, float(resume_s)):
            incident_id, levels = row["incident_id"], json.loads(row["levels"])
            next_level = row["next_level"]
            # Delays of the remaining levels count from now, keeping their spacing after the next one.
            shift = now.timestamp() - (row["started_at"].timestamp() + levels[next_level]["delaySeconds"])
            await conn.execute(queries.RESUME, incident_id, now, shift)
            details = {
                "acknowledgedBy": row["acknowledged_by"],
                "acknowledgedAt": utc_iso(row["acknowledged_at"]),
                "remindedAt": utc_iso(row["reminded_at"]),
                "nextLevel": next_level + 1,
            }
            await record(conn, incident_id, now, "resumed", details)
            resumed.append(incident_id)
    return resumed
