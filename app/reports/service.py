"""Monthly reports: read (latest or any revision of a closed month; the open month live and
provisional), close months (revision 1, idempotent), revise (revision N+1 with reason and author,
audited)."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from app.audit import service as audit
from app.auth.service import Principal
from app.contract import JsonObject
from app.errors import ApiError
from app.formatting import utc_iso
from app.ingest.service import API_CALLS_SOURCE
from app.periods import Period, add_months, local_date, month
from app.reports import figures as report_figures
from app.reports import pdf, queries
from app.reports.models import RevisionCreated, RevisionRead
from app.rollups import service as rollups

log = logging.getLogger(__name__)

MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
CATCH_UP_MONTHS = 3  # a worker that was down closes up to this many ended months when it comes back
CLOSE_LOCK = 0x51A_0050  # advisory lock: one month close at a time, whichever worker runs it


def parse_month(text: str, zone: ZoneInfo, now: datetime, field: str = "month") -> Period:
    """A 'YYYY-MM' that has begun in the reporting zone, else 422 naming the parameter."""
    found = MONTH_PATTERN.match(text or "")
    if not found or not 1 <= int(found[2]) <= 12 or not 2000 <= int(found[1]) <= 2100:
        raise ApiError(
            422,
            "validation_error",
            f"{field} must be a month as YYYY-MM, got {text[:20]!r}",
            [{"in": "path", "field": field, "message": "expected YYYY-MM"}],
        )
    period = month(int(found[1]), int(found[2]), zone)
    if period.first_day > local_date(now, zone):
        raise ApiError(
            422,
            "validation_error",
            f"{field} {period.label} has not begun yet",
            [{"in": "path", "field": field, "message": "future month"}],
        )
    return period


# Response times and usage are made of the API calls the service reports itself (/api/ingest/api-calls),
# not of anything the monitoring measured: every format says so (a label, not a figure: not frozen).
DATA_SOURCES = {"responseTimes": API_CALLS_SOURCE, "usage": API_CALLS_SOURCE}


def revision_meta(row: asyncpg.Record) -> RevisionRead:
    """A frozen revision's number, time, reason and author (reports and customer statements)."""
    return RevisionRead(
        revision=row["revision"], frozen_at=utc_iso(row["created_at"]), reason=row["reason"], author=row["author"]
    )


def final_meta(
    id_field: str, owner_id: str, period: Period, row: asyncpg.Record, history: list[RevisionRead]
) -> JsonObject:
    """The metadata of a frozen document: its revision and every revision of its month."""
    return {
        id_field: owner_id,
        "month": period.label,
        "status": "final",
        **revision_meta(row).model_dump(),
        "latestRevision": history[-1].revision,
        "revisions": [r.model_dump() for r in history],
    }


def provisional_meta(id_field: str, owner_id: str, period: Period, now: datetime) -> JsonObject:
    """The metadata of a document computed live (a running month, or one not closed yet)."""
    return {
        id_field: owner_id,
        "month": period.label,
        "status": "provisional",
        "revision": None,
        "asOf": utc_iso(now),
        "latestRevision": None,
        "revisions": [],
    }


def no_such_revision(what: str, revision: int) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"{what} has no revision {revision}",
        [{"in": "query", "field": "revision", "message": "no such revision"}],
    )


def check_ended(label: str, period: Period, now: datetime, document: str) -> None:
    if now < period.end:
        raise ApiError(
            409, "conflict", f"{label} is still running: its {document} is provisional until the month closes"
        )


def required_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ApiError(
            422,
            "validation_error",
            "reason must not be blank",
            [{"in": "body", "field": "reason", "message": "required"}],
        )
    return reason


def not_closed(label: str) -> ApiError:
    return ApiError(
        409,
        "conflict",
        f"{label} is not closed yet: nothing to revise "
        "(the month close freezes revision 1; `slamon report close` runs it now)",
    )


async def record_revision(
    conn: asyncpg.Connection,
    action: str,
    target_type: str,
    target_id: str,
    details: JsonObject,
    author: str,
    actor: Principal | None,
) -> None:
    """The audit entry of a correction: by the signed-in admin, else by the CLI's author."""
    if actor is not None:
        await audit.record_by(conn, actor, action, target_type, target_id, details)
    else:
        await audit.record(
            conn, action, actor_name=author, target_type=target_type, target_id=target_id, details=details
        )


async def revisions(conn: asyncpg.Connection, service_id: str, period: Period) -> list[RevisionRead]:
    """Every revision of a month, oldest first."""
    return [revision_meta(r) for r in await conn.fetch(queries.REVISIONS, service_id, period.first_day)]


async def get(
    conn: asyncpg.Connection,
    service: asyncpg.Record,
    period: Period,
    now: datetime,
    timezone_name: str,
    revision: int | None = None,
) -> JsonObject:
    """The report document: a closed month's latest (or given) revision, else live and provisional."""
    if revision is not None:
        row = await conn.fetchrow(queries.ONE_REVISION, service["id"], period.first_day, revision)
        if row is None:
            raise no_such_revision(f"report {service['id']} {period.label}", revision)
    else:
        row = await conn.fetchrow(queries.LATEST, service["id"], period.first_day)
    if row is not None:
        meta = final_meta("serviceId", service["id"], period, row, await revisions(conn, service["id"], period))
        return {"report": meta, "dataSources": DATA_SOURCES, **json.loads(row["figures"])}
    live = await report_figures.compute(conn, service, period, now, timezone_name)
    meta = provisional_meta("serviceId", service["id"], period, now)
    return {"report": meta, "dataSources": DATA_SOURCES, **live}


def _dump(figures: JsonObject) -> str:
    return json.dumps(figures, ensure_ascii=False, separators=(",", ":"))


def months_to_close(now: datetime, zone: ZoneInfo, grace: timedelta) -> list[Period]:
    """Ended months whose grace has passed: the latest one and a few before it, oldest first."""
    current = local_date(now, zone).replace(day=1)
    periods = []
    for back in range(CATCH_UP_MONTHS, 0, -1):
        first = add_months(current, -back)
        period = month(first.year, first.month, zone)
        if period.end + grace <= now:
            periods.append(period)
    return periods


CLOSE_BATCH = 500  # services whose reports the month close computes together, in one snapshot


async def close_month(conn: asyncpg.Connection, period: Period, now: datetime, timezone_name: str) -> list[str]:
    """Freeze revision 1 of every service's report for the month (those not closed yet); return their ids.
    The services are closed CLOSE_BATCH at a time: each batch's figures are read for all of its services
    at once (figures.compute_many) in one consistent view of the raw rows and rollups, and frozen in
    that transaction, so a close cut short keeps the batches it finished (docs/api.md "Month close")."""
    closed = {r["service_id"] for r in await conn.fetch(queries.CLOSED_SERVICES, period.first_day)}
    services = [
        s for s in await conn.fetch(queries.SERVICES_TO_CLOSE, period.start, period.end) if s["id"] not in closed
    ]
    written = []
    for lo in range(0, len(services), CLOSE_BATCH):
        batch = services[lo : lo + CLOSE_BATCH]
        written += await rollups.in_snapshot(
            conn, functools.partial(_freeze_batch, conn, batch, period, now, timezone_name)
        )
    # The customers' statements compose the reports just frozen (app/customers/statements.py).
    from app.customers import statements

    await statements.close_month(conn, period, now, timezone_name)
    return written


async def _freeze_batch(
    conn: asyncpg.Connection, services: list[asyncpg.Record], period: Period, now: datetime, timezone_name: str
) -> list[str]:
    """Revision 1 of these services' month, those with something to freeze that no other worker froze
    first; returns their ids, in the services' order."""
    computed = await report_figures.compute_many(conn, services, period, now, timezone_name)
    # A service created after the month with nothing in it did not exist yet that month.
    frozen = [s["id"] for s in services if s["created_at"] < period.end or report_figures.has_data(computed[s["id"]])]
    if not frozen:
        return []
    inserted = {
        r["service_id"]
        for r in await conn.fetch(
            queries.INSERT_FIRST_MANY, frozen, period.first_day, timezone_name, [_dump(computed[sid]) for sid in frozen]
        )
    }
    written = [sid for sid in frozen if sid in inserted]  # the others: another worker closed them first
    await audit.record_many(
        conn,
        "report.closed",
        actor_name="month close",
        target_type="report",
        target_ids=[f"{sid}/{period.label}" for sid in written],
        details={"revision": 1},
    )
    return written


async def close_due_months(
    conn: asyncpg.Connection, now: datetime, timezone_name: str, zone: ZoneInfo, grace: timedelta
) -> dict[str, list[str]]:
    """The month close: every due month not yet frozen, under a lock so that two workers never both work."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", CLOSE_LOCK):
        return {}
    try:
        result = {}
        for period in months_to_close(now, zone, grace):
            written = await close_month(conn, period, now, timezone_name)
            if written:
                log.info("month %s closed for %d service(s)", period.label, len(written), extra={"job": "close_months"})
            result[period.label] = written
        return result
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", CLOSE_LOCK)


async def revise(
    conn: asyncpg.Connection,
    service: asyncpg.Record,
    period: Period,
    now: datetime,
    timezone_name: str,
    reason: str,
    author: str,
    retention_days: int,
    actor: Principal | None = None,
) -> RevisionCreated:
    """Recompute a closed month from the rows as they are now and append revision N+1 (audited)."""
    label = f"{service['id']} {period.label}"
    check_ended(label, period, now, "report")
    if period.start < now - timedelta(days=retention_days):
        raise ApiError(
            409,
            "conflict",
            f"the raw rows of {label} have expired (SLAMON_RAW_RETENTION_DAYS="
            f"{retention_days}): a revision cannot be recomputed; the frozen revisions stay as they are",
        )
    reason = required_reason(reason)
    row = await append_revision(
        conn,
        REPORT_STORE,
        service["id"],
        period,
        timezone_name,
        lambda: report_figures.compute(conn, service, period, now, timezone_name),
        reason,
        author,
        actor,
    )
    return RevisionCreated(
        service_id=service["id"],
        month=period.label,
        revision=row["revision"],
        frozen_at=utc_iso(row["created_at"]),
        reason=reason,
        author=author,
    )


@dataclass(frozen=True)
class RevisionStore:
    """Where a kind of frozen document keeps its revisions: the per-month lock, the next number, the
    insert (each takes the owner's id and the month's first day first), and how the audit log names
    a correction."""

    lock: str
    unlock: str
    next_number: str
    insert: str
    action: str
    target_type: str


REPORT_STORE = RevisionStore(
    queries.LOCK_MONTH, queries.UNLOCK_MONTH, queries.NEXT_REVISION, queries.INSERT_REVISION, "report.revised", "report"
)


async def append_revision(
    conn: asyncpg.Connection,
    store: RevisionStore,
    owner_id: str,
    period: Period,
    timezone_name: str,
    compute: Callable[[], Awaitable[JsonObject]],
    reason: str,
    author: str,
    actor: Principal | None,
) -> asyncpg.Record:
    """Revision N+1 of a closed month (409 while only revision 1 is missing), its document computed
    and frozen in one snapshot (rollups.in_snapshot) under the month's lock; audited. The row's
    `revision` and `created_at`. Reports and customer statements."""
    label = f"{owner_id} {period.label}"

    async def append() -> asyncpg.Record:
        number = await conn.fetchval(store.next_number, owner_id, period.first_day)
        if number == 1:
            raise not_closed(label)
        figures = await compute()
        row = await conn.fetchrow(
            store.insert, owner_id, period.first_day, number, timezone_name, _dump(figures), reason, author
        )
        assert row is not None  # INSERT … RETURNING
        details = {"revision": number, "reason": reason}
        target = f"{owner_id}/{period.label}"
        await record_revision(conn, store.action, store.target_type, target, details, author, actor)
        return row

    await conn.execute(store.lock, owner_id, period.first_day)
    try:
        return await rollups.in_snapshot(conn, append)
    finally:
        await conn.execute(store.unlock, owner_id, period.first_day)


def _pdf_key(doc: JsonObject, language: str) -> tuple[str, date, int, int, str, str]:
    meta = doc["report"]
    first_day = datetime.strptime(meta["month"], "%Y-%m").date()
    return (meta["serviceId"], first_day, meta["revision"], meta["latestRevision"], language, pdf.renderer_version())


async def cached_pdf(conn: asyncpg.Connection, doc: JsonObject, language: str) -> bytes | None:
    """The PDF printed before for this frozen revision, language and renderer; None to print it."""
    if doc["report"]["status"] != "final":
        return None
    body: bytes | None = await conn.fetchval(queries.CACHED_PDF, *_pdf_key(doc, language))
    return body


async def print_pdf(pool: asyncpg.Pool, doc: JsonObject, language: str, chromium: str | None) -> bytes:
    """Print through the process's browser, holding no database connection while waiting or printing
    (PdfBusy at once when the queue is full); a frozen revision's PDF is kept for the next request."""
    from app.reports import render

    printer = pdf.printer(chromium)
    with printer.admission():
        body = await printer.print(render.html(doc, language))
    if doc["report"]["status"] == "final":
        async with pool.acquire() as conn:
            await conn.execute(queries.STORE_PDF, *_pdf_key(doc, language), body)
    return body
