"""Batched delivery of results to the one writer (app.ingest.service.write_checks), through the spool.

Results are buffered in memory and flushed every `flush_interval_s` (<= 1 s): appended to the
journal with fsync, then the journal is shipped to PostgreSQL in order. When the database is
unreachable the journal grows (bounded) and shipping retries with backoff; once it answers again
the backlog goes out oldest first. Rows the ingest refuses are logged and dropped, the rest of the
batch is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg

from app.ingest.service import CheckRow, IngestError, write_checks
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
    ):
        self.spool = spool
        self.database_url = database_url
        self.flush_interval_s = flush_interval_s
        self.batch_rows = batch_rows
        self.connect_timeout_s = connect_timeout_s
        self.write_timeout_s = write_timeout_s
        self.connected = False
        self.written_rows = 0
        self.refused_rows = 0
        self._buffer: list[CheckRow] = []
        self._conn: asyncpg.Connection | None = None
        self._retry_at = 0.0
        self._backoff_s = 0.5
        self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prober-spool")
        self._lock = asyncio.Lock()

    def submit(self, row: CheckRow) -> None:
        self._buffer.append(row)

    @property
    def depth(self) -> int:
        """Results not yet acknowledged by the database (memory + journal)."""
        return len(self._buffer) + self.spool.depth

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()

    async def flush(self) -> None:
        """Journal what is buffered, then ship as much of the journal as the database takes."""
        async with self._lock:
            rows, self._buffer = self._buffer, []
            if rows:
                await asyncio.get_running_loop().run_in_executor(self._disk, self.spool.append, rows)
            if self.spool.depth and time.monotonic() >= self._retry_at:
                await self._ship()

    async def _ship(self) -> None:
        while self.spool.depth:
            rows, cursor = await asyncio.get_running_loop().run_in_executor(
                self._disk, self.spool.read, self.batch_rows
            )
            if not rows:
                self.spool.depth = 0
                return
            try:
                conn = await self._connection()
                await asyncio.wait_for(self._write(conn, rows), self.write_timeout_s)
            except DB_ERRORS as exc:
                await self._down(exc)
                return
            self.spool.commit(cursor, len(rows))
            self._backoff_s = 0.5
            if not self.connected:
                log.info("database reachable again; spool draining", extra={"job": "sink"})
            self.connected = True

    async def _write(self, conn: asyncpg.Connection, rows: list[CheckRow]) -> None:
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
                await asyncio.wait_for(self._conn.close(), 2)
            except (TimeoutError, *DB_ERRORS):
                self._conn.terminate()
            self._conn = None
        self._disk.shutdown(wait=True)
