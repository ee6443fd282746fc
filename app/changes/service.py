"""Work proportional to change for the worker's sweeps (sql/180_job_changes.sql): which services a
job has to evaluate now, and when each is next due.

A service is due when its inputs changed since the job last evaluated it (rows written, whatever
their time, or its configuration or a maintenance window of it), or at the time the job computed
when it last evaluated it: the moment time alone can change its result (the job knows when). Both
sweeps are idempotent per service, so evaluating a service more often than needed changes nothing;
the tests compare each sweep with a full evaluation of every service at every run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from app.changes import queries


@dataclass(frozen=True)
class Due:
    service_id: str
    generation: int
    evaluated_at: datetime | None  # the `now` of its last evaluation by the job (None: never)
    written_from: datetime | None  # earliest row written since the last evaluation (None: none)
    anything: bool  # its configuration changed, or the job never saw it: anything may have changed

    def written_before(self, instant: datetime) -> bool:
        """Whether what changed may reach before `instant` (a row written there, or anything)."""
        return self.anything or (self.written_from is not None and self.written_from < instant)


async def due(conn: asyncpg.Connection, job: str, now: datetime) -> list[Due]:
    """Take the queued changes, then the services due at `now`, in id order."""
    async with conn.transaction():
        await conn.execute(queries.TAKE, job)
    return [
        Due(r["service_id"], r["generation"], r["evaluated_at"], r["written_from"], r["anything"])
        for r in await conn.fetch(queries.DUE, job, now)
    ]


async def mark_due(conn: asyncpg.Connection, job: str, service_ids: list[str]) -> None:
    await conn.execute(queries.MARK_DUE, job, service_ids)


async def done(conn: asyncpg.Connection, job: str, work: Due, now: datetime, next_due: datetime | None) -> None:
    """The service was evaluated at `now`; next due at `next_due` (None: only when something changes)."""
    await conn.execute(queries.DONE, job, work.service_id, work.generation, next_due, now)


async def done_many(
    conn: asyncpg.Connection, job: str, evaluated: list[tuple[Due, datetime | None]], now: datetime
) -> None:
    """done() of many services in one statement: (work, next due) pairs."""
    if evaluated:
        columns = list(zip(*((w.service_id, w.generation, next_due) for w, next_due in evaluated), strict=True))
        await conn.execute(queries.DONE_MANY, job, now, *(list(c) for c in columns))


async def cursor(conn: asyncpg.Connection, job: str) -> asyncpg.Record | None:
    return await conn.fetchrow(queries.CURSOR, job)


async def put_cursor(conn: asyncpg.Connection, job: str, now: datetime, period: str | None) -> None:
    await conn.execute(queries.PUT_CURSOR, job, now, period)
