"""Escalation in the worker: `escalate_tick` (cron every 5 s, unique) starts the escalations of new
incidents, fires the levels that are due and closes those of resolved incidents
(app/escalation/engine.py). The state is in the database, so a level fires once, at most one tick
(5 s) after it is due, across worker restarts; the notification jobs then deliver it."""

from __future__ import annotations

from datetime import datetime, timezone

from app.escalation import engine
from workers.common import Ctx

EVERY_5_S = set(range(0, 60, 5))


async def escalate_tick(ctx: Ctx) -> dict[str, int]:
    async with ctx["pool"].acquire() as conn:
        settings = ctx["settings"]
        return await engine.tick(
            conn,
            datetime.now(timezone.utc),
            settings.notify_horizon_s,
            settings.escalation_reminder_s,
            settings.escalation_resume_s,
        )
