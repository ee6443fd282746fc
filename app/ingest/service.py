"""The one writer into the raw hypertables, used by the prober, the ingest API, the seeder and the
benchmarks: validate, COPY in batches, skip replays, log the touched range for the rollups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import asyncpg

from app.ingest import queries
from app.rollups import service as rollups

ERROR_TYPES = frozenset({"timeout", "connection_error", "dns_error", "tls_error", "http_error", "assertion_failed"})
MAX_TEXT = 2000
FAR_PAST = datetime(2000, 1, 1, tzinfo=timezone.utc)
# Clock skew allowed between a writer and the slot it reports: a slot later than now + this is refused,
# so that nobody can fill slots that have not happened yet (their real results would be duplicates).
MAX_FUTURE = timedelta(seconds=60)
# API-call rows are what a service reports about its own traffic: every figure made of them says so.
API_CALLS_SOURCE = "reported by the service itself"


class CheckRow(NamedTuple):
    ts: datetime
    service_id: str
    region: str
    ok: bool
    status_code: int | None = None
    latency_ms: int | None = None
    error_type: str | None = None
    error_message: str | None = None


class ApiCallRow(NamedTuple):
    ts: datetime
    service_id: str
    endpoint: str
    method: str
    status_code: int
    latency_ms: int
    request_id: str | None = None


@dataclass
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message}"


class IngestError(ValueError):
    """Some rows are invalid; nothing of the batch was written. `errors` names each row and field."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} invalid row(s): {shown}{more}")


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    spans: dict[str, tuple[datetime, datetime]] = field(default_factory=dict, repr=False)


def _check_ts(errors: list[RowError], index: int, ts: datetime, latest: datetime) -> None:
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        errors.append(RowError(index, "ts", "must be a timestamp with a UTC offset"))
    elif ts > latest:
        errors.append(RowError(index, "ts", f"{ts.isoformat()} is in the future"))
    elif ts < FAR_PAST:
        errors.append(RowError(index, "ts", f"{ts.isoformat()} is before 2000"))


def _check_latency(errors: list[RowError], index: int, latency_ms: object, required: bool) -> None:
    if latency_ms is None:
        if required:
            errors.append(RowError(index, "latency_ms", "is required"))
    elif isinstance(latency_ms, bool) or not isinstance(latency_ms, int):
        errors.append(RowError(index, "latency_ms", "must be an integer number of milliseconds"))
    elif not 0 <= latency_ms <= 2_147_483_647:
        errors.append(RowError(index, "latency_ms", f"{latency_ms} is out of range (0 .. 2147483647)"))


def _check_status(errors: list[RowError], index: int, status_code: object, required: bool) -> None:
    if status_code is None:
        if required:
            errors.append(RowError(index, "status_code", "is required"))
    elif isinstance(status_code, bool) or not isinstance(status_code, int) or not 100 <= status_code <= 599:
        errors.append(RowError(index, "status_code", f"{status_code!r} is not an HTTP status (100-599)"))


def _spans(
    rows: Sequence[CheckRow | ApiCallRow], known: set[str], errors: list[RowError]
) -> dict[str, tuple[datetime, datetime]]:
    spans: dict[str, tuple[datetime, datetime]] = {}
    for index, row in enumerate(rows):
        if row.service_id not in known:
            errors.append(RowError(index, "service_id", f"unknown service {row.service_id!r}"))
            continue
        lo_hi = spans.get(row.service_id)
        if isinstance(row.ts, datetime) and row.ts.tzinfo is not None:
            spans[row.service_id] = (min(lo_hi[0], row.ts), max(lo_hi[1], row.ts)) if lo_hi else (row.ts, row.ts)
    return spans


def validate_checks(rows: list[CheckRow], now: datetime, max_future: timedelta) -> list[RowError]:
    """Every problem of every row; an empty list means the batch can be written."""
    errors: list[RowError] = []
    latest = now + max_future
    for index, row in enumerate(rows):
        _check_ts(errors, index, row.ts, latest)
        if not isinstance(row.ok, bool):
            errors.append(RowError(index, "ok", "must be true or false"))
        if not row.region or len(row.region) > 64:
            errors.append(RowError(index, "region", "must be 1-64 characters"))
        _check_status(errors, index, row.status_code, required=False)
        _check_latency(errors, index, row.latency_ms, required=False)
        if row.error_type is not None and row.error_type not in ERROR_TYPES:
            errors.append(RowError(index, "error_type", f"{row.error_type!r} is not one of {sorted(ERROR_TYPES)}"))
        if row.ok is False and row.error_type is None:
            errors.append(RowError(index, "error_type", "a failed check needs an error_type"))
        if row.error_message is not None and len(row.error_message) > MAX_TEXT:
            errors.append(RowError(index, "error_message", f"longer than {MAX_TEXT} characters"))
    return errors


def validate_api_calls(rows: list[ApiCallRow], now: datetime, max_future: timedelta) -> list[RowError]:
    errors: list[RowError] = []
    latest = now + max_future
    for index, row in enumerate(rows):
        _check_ts(errors, index, row.ts, latest)
        _check_status(errors, index, row.status_code, required=True)
        _check_latency(errors, index, row.latency_ms, required=True)
        if len(row.endpoint) > 255:
            errors.append(RowError(index, "endpoint", "longer than 255 characters"))
        if not row.method or len(row.method) > 10:
            errors.append(RowError(index, "method", "must be 1-10 characters"))
        if row.request_id is not None and not 1 <= len(row.request_id) <= 128:
            errors.append(RowError(index, "request_id", "must be 1-128 characters"))
    return errors


def refused_api_calls(rows: list[ApiCallRow], now: datetime, max_future: timedelta) -> dict[int, str]:
    """The rows write_api_calls would refuse, by index, each with its first problem ("ts: ... is in the
    future"): for writers that skip bad rows (OTLP spans, access-log lines) instead of refusing the batch."""
    refused: dict[int, str] = {}
    for error in validate_api_calls(rows, now, max_future):
        refused.setdefault(error.row, f"{error.field}: {error.message}")
    return refused


async def _known(conn: asyncpg.Connection, rows: Sequence[CheckRow | ApiCallRow]) -> set[str]:
    ids = list({r.service_id for r in rows})
    return {r["id"] for r in await conn.fetch(queries.KNOWN_SERVICES, ids)}


async def write_checks(
    conn: asyncpg.Connection,
    rows: list[CheckRow],
    *,
    now: datetime | None = None,
    max_future: timedelta = MAX_FUTURE,
) -> IngestResult:
    """Write a batch of checks idempotently on (service_id, region, ts); refuse it whole if a row is bad."""
    now = now or datetime.now(timezone.utc)
    # slots are whole seconds; rebuilding only the rows that need it keeps a third of the write time
    rows = [
        r._replace(ts=r.ts.replace(microsecond=0)) if isinstance(r.ts, datetime) and r.ts.microsecond else r
        for r in rows
    ]
    errors = validate_checks(rows, now, max_future)
    spans = _spans(rows, await _known(conn, rows), errors)
    if errors:
        raise IngestError(sorted(errors, key=lambda e: e.row))
    return await _write(
        conn,
        "checks",
        rows,
        spans,
        queries.STAGE_CHECKS,
        "ingest_stage_checks",
        queries.CHECK_COLUMNS,
        queries.MOVE_CHECKS,
    )


async def write_api_calls(
    conn: asyncpg.Connection,
    rows: list[ApiCallRow],
    *,
    now: datetime | None = None,
    max_future: timedelta = MAX_FUTURE,
) -> IngestResult:
    """Write a batch of API calls (a replayed request_id is stored once); refuse it whole if a row is bad."""
    now = now or datetime.now(timezone.utc)
    errors = validate_api_calls(rows, now, max_future)
    spans = _spans(rows, await _known(conn, rows), errors)
    if errors:
        raise IngestError(sorted(errors, key=lambda e: e.row))
    return await _write(
        conn,
        "api_calls",
        rows,
        spans,
        queries.STAGE_API_CALLS,
        "ingest_stage_api_calls",
        queries.API_CALL_COLUMNS,
        queries.MOVE_API_CALLS,
    )


PUSH_REGION = "push"  # the default region of pushed check rows, always known


class PushRefused(ValueError):
    """The service's check results come from its probers; pushed ones would overrule them."""


async def known_regions(conn: asyncpg.Connection, configured: list[str] | tuple[str, ...] = ()) -> set[str]:
    """Regions a check row may name: the probers' (registered by their heartbeats), the configured ones, 'push'."""
    return {PUSH_REGION, *configured, *(r["name"] for r in await conn.fetch(queries.REGIONS))}


async def refuse_if_probed(conn: asyncpg.Connection, service_id: str) -> None:
    """PushRefused when the service has a URL: its check results come from the probers only."""
    source = await conn.fetchrow(queries.SERVICE_SOURCE, service_id)
    if source is not None and source["probed"]:
        raise PushRefused(
            f"service {service_id!r} is probed (it has a URL): its availability comes from the "
            "probers' results only; pushed check rows are accepted for push-only services "
            "(send API calls to /api/ingest/api-calls)"
        )


async def write_pushed_checks(
    conn: asyncpg.Connection,
    rows: list[CheckRow],
    *,
    service_id: str,
    regions: list[str] | tuple[str, ...] = (),
    now: datetime | None = None,
    max_future: timedelta = MAX_FUTURE,
) -> IngestResult:
    """Check rows a service reports about itself: accepted only for a push-only service (no URL) and
    registered regions, so that a service can never overrule the probers' record of its outages."""
    await refuse_if_probed(conn, service_id)
    known = await known_regions(conn, regions)
    errors = [
        RowError(index, "region", f"unknown region {row.region!r} (known: {', '.join(sorted(known))})")
        for index, row in enumerate(rows)
        if row.region not in known
    ]
    if errors:
        raise IngestError(errors)
    return await write_checks(conn, rows, now=now, max_future=max_future)


async def _write(
    conn: asyncpg.Connection,
    raw_table: str,
    rows: Sequence[CheckRow | ApiCallRow],
    spans: dict[str, tuple[datetime, datetime]],
    stage_sql: str,
    stage_table: str,
    columns: Sequence[str],
    move_sql: str,
) -> IngestResult:
    if not rows:
        return IngestResult()
    async with conn.transaction():
        await conn.execute(stage_sql)
        await conn.copy_records_to_table(stage_table, records=rows, columns=columns)
        status = await conn.execute(move_sql)
        accepted = int(status.rsplit(" ", 1)[1])
        if accepted:
            await rollups.log_invalidations(conn, raw_table, spans)
    return IngestResult(accepted=accepted, duplicates=len(rows) - accepted, spans=spans)
