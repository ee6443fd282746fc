"""Batched delivery of results to the one writer (app.ingest.service.write_checks), through the spool.

Results are buffered in memory and flushed every `flush_interval_s` (<= 1 s): appended to the
journal with fsync, then the journal is shipped to PostgreSQL in order. When the database is
unreachable the journal grows (bounded) and shipping retries with backoff; once it answers again
the backlog goes out oldest first. Rows the ingest refuses are logged and dropped, the rest of the
batch is written.

When the journal cannot be written (disk full, I/O error) the sink keeps running: the error is
logged, counted and reported by /healthz; the results go straight to the database when it answers,
else wait in memory, at most `max_buffered_rows` of them (the oldest beyond that are dropped and
counted: the journal already holds everything from before the error); the next flush tries the
journal again, so writing resumes by itself once space returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg

from app.ingest.service import CheckRow, IngestError, IngestResult, write_checks
from prober.spool import Spool

log = logging.getLogger(__name__)
DB_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
)


class Sink:
    def __init__(
        self,
        spool: Spool,
        database_url: str,
        *,
        flush_interval_s: float = 0.5,
        batch_rows: int = 5000,
        connect_timeout_s: float = 3.0,
        write_timeout_s: float = 15.0,
        max_buffered_rows: int = 100_000,
    ):
        self.spool = spool
        self.database_url = database_url
        self.flush_interval_s = flush_interval_s
        self.batch_rows = batch_rows
        self.connect_timeout_s = connect_timeout_s
        self.write_timeout_s = write_timeout_s
        self.connected = False
        self.max_buffered_rows = max_buffered_rows
        self.written_rows = 0
        self.refused_rows = 0
        self.write_errors = 0  # journal writes or reads that failed, and unexpected flush errors
        self.dropped_rows = 0  # results dropped from memory past max_buffered_rows
        self.disk_error: str | None = None  # the journal's last error, until an append succeeds again
        self._buffer: list[CheckRow] = []
        self._conn: asyncpg.Connection | None = None
        self._retry_at = 0.0
        self._backoff_s = 0.5
        self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prober-spool")
        self._lock = asyncio.Lock()

    def submit(self, row: CheckRow) -> None:
        self._buffer.append(row)
        if len(self._buffer) > self.max_buffered_rows:
            self._bound_buffer()

    def _bound_buffer(self) -> None:
        excess = len(self._buffer) - self.max_buffered_rows
        if excess > 0:
            del self._buffer[:excess]
            if self.dropped_rows == 0:  # once; /metrics counts them all
                log.error(
                    "over %d results waiting in memory: dropping the oldest",
                    self.max_buffered_rows,
                    extra={"job": "sink"},
                )
            self.dropped_rows += excess

    @property
    def depth(self) -> int:
        """Results not yet acknowledged by the database (memory + journal)."""
        return len(self._buffer) + self.spool.depth

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
            except Exception:  # supervised: one unforeseen error must not stop storing results for good
                self.write_errors += 1
                log.exception("sink flush failed; trying again", extra={"job": "sink"})

    async def flush(self) -> None:
        """Journal what is buffered, then ship as much of the journal as the database takes."""
        async with self._lock:
            rows, self._buffer = self._buffer, []
            if rows:
                try:
                    await asyncio.get_running_loop().run_in_executor(self._disk, self.spool.append, rows)
                except OSError as exc:
                    self._disk_failed(exc)
                    self._buffer[:0] = await self._write_direct(rows)
                    self._bound_buffer()
                else:
                    if self.disk_error is not None:
                        log.info("spool writable again", extra={"job": "sink"})
                        self.disk_error = None
            if self.spool.depth and time.monotonic() >= self._retry_at:
                await self._ship()

    def _disk_failed(self, exc: OSError) -> None:
        self.write_errors += 1
        if self.disk_error is None:
            log.error(
                "cannot write the spool (%s): results go to the database directly or wait in memory (at most %d)",
                exc,
                self.max_buffered_rows,
                extra={"job": "sink"},
            )
        self.disk_error = f"{type(exc).__name__}: {exc}"[:300]

    async def _write_direct(self, rows: list[CheckRow]) -> list[CheckRow]:
        """Write rows the journal could not take straight to the database; the rows not stored."""
        if time.monotonic() < self._retry_at:
            return rows
        try:
            conn = await self._connection()
            async with asyncio.timeout(self.write_timeout_s):
                await self._write(conn, rows)
        except DB_ERRORS as exc:
            await self._down(exc)
            return rows
        self.connected = True
        return []

    async def _ship(self) -> None:
        loop = asyncio.get_running_loop()
        while self.spool.depth:
            try:
                rows, cursor = await loop.run_in_executor(self._disk, self.spool.read, self.batch_rows)
            except OSError as exc:
                self._disk_failed(exc)
                return
            if not rows:
                self.spool.depth = 0
                return
            try:
                conn = await self._connection()
                async with asyncio.timeout(self.write_timeout_s):
                    await self._write(conn, rows)
            except DB_ERRORS as exc:
                await self._down(exc)
                return
            try:
                self.spool.commit(cursor, len(rows))
            except OSError as exc:  # stored, but the cursor could not move: sent again later (idempotent)
                self._disk_failed(exc)
                return
            self._backoff_s = 0.5
            if not self.connected:
                log.info("database reachable again; spool draining", extra={"job": "sink"})
            self.connected = True

    async def _write(self, conn: asyncpg.Connection, rows: list[CheckRow]) -> None:
        result: IngestResult | None
        try:
            result = await write_checks(conn, rows)
        except IngestError as exc:
            bad = {e.row for e in exc.errors}
            for error in exc.errors:
                row = rows[error.row]
                log.error(
                    "result refused by ingest, dropped: %s",
                    error,
                    extra={"service_id": row.service_id, "region": row.region, "job": "sink"},
                )
            self.refused_rows += len(bad)
            rows = [r for i, r in enumerate(rows) if i not in bad]
            result = await write_checks(conn, rows) if rows else None
        if result is not None:
            self.written_rows += result.accepted

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self.database_url,
                timeout=self.connect_timeout_s,
                server_settings={"application_name": "slamon-prober-sink", "timezone": "UTC"},
            )
        return self._conn

    async def _down(self, exc: BaseException) -> None:
        if self.connected or self._backoff_s == 0.5:
            log.warning("database unreachable, spooling %d result(s): %s", self.spool.depth, exc, extra={"job": "sink"})
        self.connected = False
        self._retry_at = time.monotonic() + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, 10.0)
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def close(self) -> None:
        """Flush what is buffered (to the journal at least) and release the connection."""
        self._retry_at = 0.0
        await self.flush()
        if self._conn is not None:
            try:
                async with asyncio.timeout(2):
                    await self._conn.close()
            except (TimeoutError, *DB_ERRORS):
                self._conn.terminate()
            self._conn = None
        self._disk.shutdown(wait=True)
