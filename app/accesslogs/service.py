"""Import access-log files as a service's API calls through the one writer (app.ingest.service).

Idempotent: a line's request_id is its format, a hash of the line and how many identical lines came
before it in the file (`nginx:<32 hex>:0`), so importing a file again — or its rotated or gzipped copy,
or a longer version of it — stores nothing twice, while identical lines (two equal requests in the
same second) stay two calls. Bad lines are reported with their file and line number; the rest is
imported."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import asyncpg

from app.accesslogs.parsers import PARSERS, LineError, Parsed, detect
from app.ingest import service as ingest

BATCH_ROWS = 5000  # rows per write (one transaction each)
# Identical lines are counted within this much log time of each other; older counts are forgotten,
# so memory follows the log's rate, not the file's length.
REPEAT_WINDOW = timedelta(hours=1)
PRUNE_EVERY_LINES = 10_000


@dataclass
class BadLine:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class FileResult:
    file: str
    format: str | None = None
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    bad: list[BadLine] = field(default_factory=list)


def _open(path: Path) -> IO[str]:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="\n")
    return path.open("r", encoding="utf-8", errors="replace", newline="\n")


class _Repeats:
    """How many identical lines came before this one (within REPEAT_WINDOW of log time)."""

    def __init__(self) -> None:
        self.seen: dict[bytes, tuple[int, datetime]] = {}
        self.newest: datetime | None = None
        self.lines = 0

    def count(self, digest: bytes, ts: datetime) -> int:
        before = self.seen.get(digest, (0, ts))[0]
        self.seen[digest] = (before + 1, ts)
        self.newest = ts if self.newest is None or ts > self.newest else self.newest
        self.lines += 1
        if self.lines % PRUNE_EVERY_LINES == 0:
            horizon = self.newest - REPEAT_WINDOW
            self.seen = {d: (n, t) for d, (n, t) in self.seen.items() if t >= horizon}
        return before


def _lines(handle: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(handle, start=1):
        text = line.rstrip("\r\n")
        if text.strip():
            yield number, text


async def _flush(
    conn: asyncpg.Connection, result: FileResult, batch: list[tuple[int, ingest.ApiCallRow]], now: datetime
) -> None:
    rows = [row for _, row in batch]
    bad = ingest.refused_api_calls(rows, now, ingest.MAX_FUTURE)
    for index, message in sorted(bad.items()):
        result.bad.append(BadLine(result.file, batch[index][0], message))
    written = await ingest.write_api_calls(
        conn, [row for index, row in enumerate(rows) if index not in bad], now=now, max_future=ingest.MAX_FUTURE
    )
    result.accepted += written.accepted
    result.duplicates += written.duplicates
    batch.clear()


def _row(service_id: str, fmt: str, text: str, parsed: Parsed, repeats: _Repeats) -> ingest.ApiCallRow:
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    occurrence = repeats.count(digest, parsed.ts)
    return ingest.ApiCallRow(
        ts=parsed.ts,
        service_id=service_id,
        endpoint=parsed.endpoint,
        method=parsed.method,
        status_code=parsed.status_code,
        latency_ms=parsed.latency_ms,
        request_id=f"{fmt}:{digest.hex()}:{occurrence}",
    )


async def import_file(
    conn: asyncpg.Connection, path: Path, service_id: str, fmt: str | None, *, now: datetime
) -> FileResult:
    """Import one file (plain or gzip) in the given format, or the one its first line shows."""
    result = FileResult(str(path), fmt)
    batch: list[tuple[int, ingest.ApiCallRow]] = []
    repeats = _Repeats()
    number = 0
    try:
        with _open(path) as handle:
            for number, text in _lines(handle):
                result.lines += 1
                if result.format is None:
                    result.format = detect(text)
                    if result.format is None:
                        result.bad.append(
                            BadLine(result.file, number, "neither an ALB nor an nginx line: give --format")
                        )
                        return result
                try:
                    parsed = PARSERS[result.format](text)
                except LineError as exc:
                    result.bad.append(BadLine(result.file, number, str(exc)))
                    continue
                batch.append((number, _row(service_id, result.format, text, parsed, repeats)))
                if len(batch) >= BATCH_ROWS:
                    await _flush(conn, result, batch, now)
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt gzip file: what came before is imported
        result.bad.append(BadLine(result.file, number + 1, f"cannot read on: {exc}"))
    if batch:
        await _flush(conn, result, batch, now)
    return result
