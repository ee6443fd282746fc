"""The on-disk journal between the scheduler and the database: append-only JSON lines, fsync per flush.

Every flushed batch is written here *before* the database sees it (write-ahead): the journal is the
one ordered queue the shipper drains, so ordering and replay need no second code path, and a
SIGKILL loses only what was still in memory (under one flush interval). A cursor file records how
far the database has acknowledged; re-sending past it after a crash is harmless because the ingest
is idempotent on (service_id, region, ts). The journal is bounded: past `max_bytes` the oldest
segment is dropped (and counted) rather than filling the disk.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from app.ingest.service import CheckRow

log = logging.getLogger(__name__)
SEGMENT_BYTES = 4 * 1024 * 1024


def encode(row: CheckRow) -> str:
    return json.dumps(
        [
            int(row.ts.timestamp()),
            row.service_id,
            row.region,
            row.ok,
            row.status_code,
            row.latency_ms,
            row.error_type,
            row.error_message,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode(line: str) -> CheckRow:
    ts, service_id, region, ok, status_code, latency_ms, error_type, error_message = json.loads(line)
    return CheckRow(
        datetime.fromtimestamp(ts, timezone.utc),
        service_id,
        region,
        ok,
        status_code,
        latency_ms,
        error_type,
        error_message,
    )


def _cut_torn_tail(fd: int) -> int:
    """The file's size once a torn last line (a crash or a failed write mid-line) is cut off."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = os.pread(fd, size, 0).rfind(b"\n") + 1
    os.ftruncate(fd, end)
    return end


class SpoolLocked(RuntimeError):
    """Another live process owns this spool directory."""


class Spool:
    """A directory of numbered segments plus a cursor `segment offset`; one process at a time (flock)."""

    def __init__(self, directory: Path, max_bytes: int = 256 * 1024 * 1024):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.dropped_rows = 0
        self._lock = open(self.directory / "lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolLocked(f"{self.directory} is in use by another prober") from None
        self._repair_tail()
        self.cursor = self._read_cursor()
        self.depth = self._count_pending()

    # -- layout -------------------------------------------------------------------------------
    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*.jsonl") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:08d}.jsonl"

    def _repair_tail(self) -> None:
        """Cut a line torn by a crash mid-write, so the next append starts on a fresh line."""
        segments = self.segments()
        if not segments:
            return
        path = self._path(segments[-1])
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def _read_cursor(self) -> tuple[int, int]:
        try:
            segment, offset = (self.directory / "cursor").read_text().split()
            return int(segment), int(offset)
        except (OSError, ValueError):
            segments = self.segments()
            return (segments[0] if segments else 1), 0

    def _count_pending(self) -> int:
        count = 0
        for segment in self.segments():
            if segment < self.cursor[0]:
                continue
            with open(self._path(segment), "rb") as handle:
                if segment == self.cursor[0]:
                    handle.seek(self.cursor[1])
                count += sum(1 for line in handle if line.endswith(b"\n"))
        return count

    # -- writing ------------------------------------------------------------------------------
    def append(self, rows: list[CheckRow]) -> None:
        """Append rows durably (fsync) before anyone tries the database with them. On a write error
        (disk full) the file is cut back to where it was, so the journal never holds a torn line and
        the same rows can be appended again later; the error is raised."""
        if not rows:
            return
        segments = self.segments()
        current = segments[-1] if segments else self.cursor[0]
        if segments and self._path(current).stat().st_size >= SEGMENT_BYTES:
            current += 1
        data = memoryview("".join(encode(r) + "\n" for r in rows).encode())
        fd = os.open(self._path(current), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = _cut_torn_tail(fd)
            try:
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, start)  # shrinking needs no space
                raise
        finally:
            os.close(fd)
        self.depth += len(rows)
        self._enforce_bound()

    def _enforce_bound(self) -> None:
        segments = self.segments()
        while len(segments) > 1 and sum(self._path(s).stat().st_size for s in segments) > self.max_bytes:
            oldest = segments.pop(0)
            lost = self._lines_from(oldest, self.cursor[1] if oldest == self.cursor[0] else 0)
            self._path(oldest).unlink()
            if oldest >= self.cursor[0]:
                self.depth -= lost
                self.dropped_rows += lost
                self._write_cursor((segments[0], 0))
                log.error(
                    "spool over %d bytes: dropped %d oldest results", self.max_bytes, lost, extra={"job": "spool"}
                )

    def _lines_from(self, segment: int, offset: int) -> int:
        with open(self._path(segment), "rb") as handle:
            handle.seek(offset)
            return sum(1 for line in handle if line.endswith(b"\n"))

    # -- reading ------------------------------------------------------------------------------
    def read(self, max_rows: int) -> tuple[list[CheckRow], tuple[int, int]]:
        """Up to max_rows pending rows in journal order, and the cursor to commit once they are stored."""
        rows: list[CheckRow] = []
        segment, offset = self.cursor
        for candidate in self.segments():
            if candidate < segment:
                continue
            if candidate > segment:
                segment, offset = candidate, 0
            with open(self._path(segment), "rb") as handle:
                handle.seek(offset)
                while len(rows) < max_rows:
                    line = handle.readline()
                    if not line.endswith(b"\n"):  # end of file, or a torn last line from a crash
                        break
                    offset += len(line)
                    try:
                        rows.append(decode(line.decode()))
                    except (ValueError, TypeError):
                        log.error("spool: skipping unreadable line in %s", self._path(segment), extra={"job": "spool"})
            if len(rows) >= max_rows:
                break
        return rows, (segment, offset)

    def commit(self, cursor: tuple[int, int], rows: int) -> None:
        """The rows before `cursor` are stored: advance, and delete fully shipped segments."""
        self._write_cursor(cursor)
        self.depth = max(0, self.depth - rows)
        for segment in self.segments():
            if segment < cursor[0]:
                self._path(segment).unlink(missing_ok=True)

    def _write_cursor(self, cursor: tuple[int, int]) -> None:
        self.cursor = cursor
        tmp = self.directory / "cursor.tmp"
        tmp.write_text(f"{cursor[0]} {cursor[1]}")
        os.replace(tmp, self.directory / "cursor")

    def close(self) -> None:
        self._lock.close()
