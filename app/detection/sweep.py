"""Which services the every-minute detection (workers/detection.py detect_all) judges at a run: work
proportional to what changed since the last run (app/changes), with the same incidents as judging
every active service at every run (tests/workers/test_sweeps.py compares the two).

Detection replays a service's slots newer than its anchor (app/detection/service.py); a replay of
the same slots acts once (`last_action_ts`). So with no slot written and no change of the service or
of its maintenance windows, a run changes nothing but the anchor, which moves over each slot as it
settles; the service is due again at those moments (Detection.due_at), so that its anchor is always
where the full sweep has it: the notes of a later action name the slots replayed from there, and
the 6-hour catch-up limit skips what the anchor has not passed. A slot stored ahead of the clock
makes the service due when it comes due. With 1-minute slots (settled 45 s after their time) a
service that reports is judged once a minute, one that stopped once more, then no more."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.changes import service as changes
from app.changes.service import Due
from app.detection.service import Detection

JOB = "detection"


async def plan(conn: asyncpg.Connection, now: datetime, active_ids: list[str], *, full: bool) -> dict[str, Due | None]:
    """The services to judge now, in catalog order, with their pending change (None: a full sweep)."""
    if full:
        return dict.fromkeys(active_ids)
    work = {item.service_id: item for item in await changes.due(conn, JOB, now)}
    for service_id in set(work) - set(active_ids):  # archived: judged again once active (a change)
        await changes.done(conn, JOB, work.pop(service_id), now, None)
    return {service_id: work[service_id] for service_id in active_ids if service_id in work}


async def finish(
    conn: asyncpg.Connection, work: dict[str, Due | None], now: datetime, found: dict[str, Detection]
) -> None:
    """The services of `work` were judged at `now` (`found`: what each judgement found)."""
    done = [(item, found[sid].due_at) for sid, item in work.items() if item is not None]
    await changes.done_many(conn, JOB, done, now)
