"""Which services the SLO evaluation (workers/slo.py) evaluates at a run, and which half of it: work
proportional to what changed since the last run (app/changes), with the same violations as
evaluating every active service at every run (tests/workers/test_sweeps.py compares the two).

Why skipping is exact (app/slo/evaluation.py):
- the violation rules judge complete 5-minute measurements of the last hours. With nothing written
  before the newest complete measurement's end since the service's last evaluation, and no
  measurement completed since then that holds rows, the measurements differ at most by old ones
  leaving the look-back, which never opens, escalates or closes a violation (the trailing run only
  shortens; an open violation keeps its severity and worst value);
- a burn-rate alert needs bad slots in its short window (at most 30 minutes): with no failed check
  from `now - 30 min` on and no open burn-rate alert, none opens now or later without new rows;
  an open one is evaluated at every run, to close when its windows stop burning;
- a new reporting month changes every service's figures: every active service is evaluated then.
The realtime event of a service (its figures and burn rates) is recomputed whenever it is
evaluated: burn rates of a service that stopped reporting are refreshed while it is evaluated
(30 minutes after its last failure, or while an alert is open), not as they slide afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from app.changes import service as changes
from app.changes.service import Due
from app.slo import alerts, queries
from app.slo.evaluation import BURN_ALERTS, bucket_floor
from app.slo.service import BURN_WINDOWS

JOB = "slo"
# The longest short window of the burn-rate alerts: a burn needs a bad slot there.
SHORT_WINDOW = timedelta(
    seconds=max(seconds for name, seconds in BURN_WINDOWS if name in {alert[1] for _, alert, _ in BURN_ALERTS})
)


@dataclass(frozen=True)
class Scope:
    """What a run evaluates of a service, and when time alone can next change its result."""

    rules: bool
    burns: bool
    next_due: datetime | None  # None: only a change can


async def plan(
    conn: asyncpg.Connection, now: datetime, period_label: str, active_ids: list[str], *, full: bool
) -> dict[str, Due | None]:
    """The services to evaluate now, with their pending change (None: evaluate everything)."""
    if full:
        return dict.fromkeys(active_ids)
    cursor = await changes.cursor(conn, JOB)
    if cursor is None or cursor["period"] != period_label:
        await changes.mark_due(conn, JOB, active_ids)  # a new month: every figure starts over
    work = await changes.due(conn, JOB, now)
    await changes.put_cursor(conn, JOB, now, period_label)
    active = set(active_ids)
    for item in work:
        if item.service_id not in active:  # left the catalog: close_inactive ends its violations
            await changes.done(conn, JOB, item, now, None)
    return {item.service_id: item for item in work if item.service_id in active}


async def scopes(conn: asyncpg.Connection, work: dict[str, Due | None], now: datetime) -> dict[str, Scope]:
    """Per service of `work`, what can have changed since its last evaluation (everything when its
    work is None), in one statement for all of them."""
    found = {sid: Scope(True, True, None) for sid, item in work.items() if item is None}
    pending = {sid: item for sid, item in work.items() if item is not None}
    if not pending:
        return found
    end = bucket_floor(now)
    since = {sid: bucket_floor(item.evaluated_at) if item.evaluated_at else None for sid, item in pending.items()}
    ids = list(pending)
    rows = await conn.fetch(queries.OUTLOOK, ids, [since[sid] or end for sid in ids], end, now - SHORT_WINDOW)
    for row in rows:
        sid = row["service_id"]
        # a measurement with rows completed since the last evaluation
        completed = row["first_since"] is not None and row["first_since"] < end
        rules = since[sid] is None or pending[sid].written_before(end) or completed
        burns = row["failed_recently"] or row["burn_open"]
        due = [bucket_floor(row["first_open"]) + alerts.BUCKET] if row["first_open"] is not None else []
        if burns:
            due.append(now)  # the next run: burn windows slide
        found[sid] = Scope(rules, burns, min(due) if due else None)
    return found


async def finish(conn: asyncpg.Connection, work: dict[str, Due | None], scope: dict[str, Scope], now: datetime) -> None:
    """The services of `work` were evaluated at `now`."""
    done = [(item, scope[sid].next_due) for sid, item in work.items() if item is not None]
    await changes.done_many(conn, JOB, done, now)
