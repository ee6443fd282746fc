"""The one writer into the raw hypertables, used by the prober, the ingest API, the seeder and the
benchmarks: validate, COPY in batches, skip replays, log the touched range for the rollups."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import asyncpg

from app.ingest import queries
from app.rollups import service as rollups

ERROR_TYPES = frozenset({"timeout", "connection_error", "dns_error", "tls_error", "http_error", "assertion_failed"})
MAX_TEXT = 2000
FAR_PAST = datetime(2000, 1, 1, tzinfo=timezone.utc)


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


def _check_latency(errors: list[RowError], index: int, latency_ms, required: bool) -> None:
    if latency_ms is None:
        if required:
            errors.append(RowError(index, "latency_ms", "is required"))
    elif isinstance(latency_ms, bool) or not isinstance(latency_ms, int):
        errors.append(RowError(index, "latency_ms", "must be an integer number of milliseconds"))
    elif not 0 <= latency_ms <= 2_147_483_647:
        errors.append(RowError(index, "latency_ms", f"{latency_ms} is out of range (0 .. 2147483647)"))


def _check_status(errors: list[RowError], index: int, status_code, required: bool) -> None:
    if status_code is None:
        if required:
            errors.append(RowError(index, "status_code", "is required"))
    elif isinstance(status_code, bool) or not isinstance(status_code, int) or not 100 <= status_code <= 599:
        errors.append(RowError(index, "status_code", f"{status_code!r} is not an HTTP status (100-599)"))


def _spans(rows, known: set[str], errors: list[RowError]) -> dict[str, tuple[datetime, datetime]]:
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


async def _known(conn: asyncpg.Connection, rows) -> set[str]:
    ids = list({r.service_id for r in rows})
    return {r["id"] for r in await conn.fetch(queries.KNOWN_SERVICES, ids)}


async def write_checks(
    conn: asyncpg.Connection,
    rows: list[CheckRow],
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
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
    max_future: timedelta = timedelta(minutes=5),
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


async def _write(conn, raw_table, rows, spans, stage_sql, stage_table, columns, move_sql) -> IngestResult:
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


# --- ingest keys ----------------------------------------------------------------------------


def derive_key(secret: str, service_id: str, version: int) -> str:
    mac = hmac.new(secret.encode(), f"ingest:{service_id}:{version}".encode(), hashlib.sha256).digest()
    return f"slk.{service_id}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


async def ensure_key(conn: asyncpg.Connection, secret: str, service_id: str) -> str:
    """The service's ingest key, created on first use."""
    version = await conn.fetchval(queries.CREATE_KEY, service_id)
    return derive_key(secret, service_id, version)


async def authenticate(conn: asyncpg.Connection, secret: str, key: str) -> str | None:
    """The service id a key belongs to, or None when the key is not (or no longer) valid."""
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != "slk":
        return None
    service_id = parts[1]
    version = await conn.fetchval(queries.KEY_VERSION, service_id)
    if version is None:
        return None
    expected = derive_key(secret, service_id, version)
    return service_id if hmac.compare_digest(expected.encode(), key.encode()) else None
