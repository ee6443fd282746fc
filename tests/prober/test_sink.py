"""Results reach PostgreSQL through the journal: nothing lost and nothing doubled across a database
outage, replayed in order, bounded on disk, and a SIGKILL loses at most the unflushed last second."""

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from app.ingest.service import CheckRow
from prober.sink import Sink
from prober.spool import Spool, SpoolLocked
from tests.prober.servers import Proxy, closed_port

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)


def rows(n, start=0, service="face-compare", region="test-sink"):
    return [
        CheckRow(
            T0 + timedelta(seconds=start + i),
            service,
            region,
            i % 5 != 0,
            200,
            100 + i,
            None if i % 5 else "http_error",
            None if i % 5 else "unexpected status 503",
        )
        for i in range(n)
    ]


def via_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


def test_spool_appends_reads_in_order_and_commits(tmp_path):
    spool = Spool(tmp_path / "s")
    spool.append(rows(15)[:10])
    spool.append(rows(15)[10:])
    batch, cursor = spool.read(12)
    assert batch == rows(15)[:12]
    spool.commit(cursor, len(batch))
    spool.close()
    reopened = Spool(tmp_path / "s")
    rest, _ = reopened.read(100)
    assert reopened.depth == 3 and rest == rows(15)[12:]


def test_spool_repairs_a_torn_last_line(tmp_path):
    spool = Spool(tmp_path / "s")
    spool.append(rows(4)[:3])
    spool.close()
    segment = next((tmp_path / "s").glob("*.jsonl"))
    with open(segment, "ab") as handle:
        handle.write(b'[1700000000,"face-com')  # killed mid-write
    reopened = Spool(tmp_path / "s")
    reopened.append(rows(4)[3:])
    batch, _ = reopened.read(10)
    assert batch == rows(4)


def test_every_append_repairs_a_torn_last_line(tmp_path):
    """A line torn while the spool is open (a write that failed mid-line) is cut by the next append,
    not only when the spool is opened again."""
    spool = Spool(tmp_path / "s")
    spool.append(rows(4)[:3])
    segment = next((tmp_path / "s").glob("*.jsonl"))
    with open(segment, "ab") as handle:
        handle.write(b'[1700000000,"face-com')
    spool.append(rows(4)[3:])
    batch, _ = spool.read(10)
    assert batch == rows(4) and segment.read_bytes().endswith(b"\n")


def test_spool_is_bounded_and_counts_what_it_drops(tmp_path, monkeypatch):
    from prober import spool as spool_module

    monkeypatch.setattr(spool_module, "SEGMENT_BYTES", 2000)
    spool = Spool(tmp_path / "s", max_bytes=10_000)
    for i in range(50):
        spool.append(rows(10, start=i * 10))
    total = sum(p.stat().st_size for p in (tmp_path / "s").glob("*.jsonl"))
    assert total <= 10_000 + 2000 and spool.dropped_rows > 0
    assert spool.depth + spool.dropped_rows == 500
    batch, _ = spool.read(1000)
    assert len(batch) == spool.depth and batch == sorted(batch, key=lambda r: r.ts)


def test_one_process_per_spool(tmp_path):
    first = Spool(tmp_path / "s")
    with pytest.raises(SpoolLocked):
        Spool(tmp_path / "s")
    first.close()
    Spool(tmp_path / "s").close()


async def test_unwritable_journal_and_database_bound_memory_and_writing_resumes(conn, database_url, tmp_path):
    """The journal cannot be written (its next segment is a directory: EISDIR) and the database does
    not answer: results wait in memory up to the bound, the oldest beyond it dropped and counted, the
    error reported; once the journal is writable the kept results are journaled and stored."""
    spool = Spool(tmp_path / "spool")
    blocker = tmp_path / "spool" / "00000001.jsonl"
    blocker.mkdir()
    sink = Sink(spool, via_port(database_url, closed_port()), max_buffered_rows=50)
    everything = rows(120)
    for row in everything[:70]:
        sink.submit(row)
    await sink.flush()
    for row in everything[70:]:
        sink.submit(row)
    await sink.flush()
    assert sink.disk_error is not None and sink.write_errors >= 2
    assert (len(sink._buffer), sink.dropped_rows) == (50, 70) and sink._buffer == everything[70:]
    blocker.rmdir()
    sink.database_url, sink._retry_at = database_url, 0.0
    await sink.flush()
    assert sink.disk_error is None and sink.depth == 0
    await sink.close()
    stored = await conn.fetch("SELECT ts FROM checks WHERE region = 'test-sink' ORDER BY ts")
    assert [r["ts"] for r in stored] == [r.ts for r in everything[70:]]


async def test_database_outage_loses_nothing_and_duplicates_nothing(conn, database_url, tmp_path):
    proxy = Proxy(urlsplit(database_url).port)
    await proxy.up()
    sink = Sink(Spool(tmp_path / "spool"), via_port(database_url, proxy.port))
    everything = rows(300)
    for row in everything[:100]:
        sink.submit(row)
    await sink.flush()
    assert sink.connected and sink.depth == 0
    await proxy.down()
    for row in everything[100:250]:
        sink.submit(row)
        if len(sink._buffer) >= 50:
            await sink.flush()
    await sink.flush()
    assert not sink.connected and sink.spool.depth == 150
    await proxy.up()
    for row in everything[250:]:
        sink.submit(row)
    sink._retry_at = 0
    await sink.flush()
    await sink.close()
    await proxy.down()
    stored = await conn.fetch("SELECT ts, ok, latency_ms FROM checks WHERE region = 'test-sink' ORDER BY ts")
    assert [(r["ts"], r["ok"], r["latency_ms"]) for r in stored] == [(r.ts, r.ok, r.latency_ms) for r in everything]
    assert sink.written_rows == 300 and sink.spool.depth == 0


async def test_rows_the_ingest_refuses_are_dropped_and_the_rest_written(conn, database_url, tmp_path):
    sink = Sink(Spool(tmp_path / "spool"), database_url)
    batch = rows(5)
    batch[2] = batch[2]._replace(service_id="no-such-service")
    for row in batch:
        sink.submit(row)
    await sink.close()
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE region = 'test-sink'") == 4
    assert sink.refused_rows == 1 and sink.spool.depth == 0


async def test_journal_left_by_a_stopped_process_is_replayed_later(conn, database_url, tmp_path):
    spool_dir = tmp_path / "spool"
    down = Sink(Spool(spool_dir), f"postgresql://postgres@127.0.0.1:{closed_port()}/x", connect_timeout_s=0.5)
    for row in rows(40):
        down.submit(row)
    await down.close()
    down.spool.close()
    replay = Sink(Spool(spool_dir), database_url)
    assert replay.spool.depth == 40
    await replay.close()
    assert await conn.fetchval("SELECT count(*) FROM checks WHERE region = 'test-sink'") == 40


CHILD = textwrap.dedent("""
    import asyncio, sys
    from datetime import datetime, timedelta, timezone
    from app.ingest.service import CheckRow
    from prober.sink import Sink
    from prober.spool import Spool, SpoolLocked

    async def main():
        sink = Sink(Spool(sys.argv[1]), "postgresql://postgres@127.0.0.1:%s/x" % sys.argv[2], connect_timeout_s=0.2)
        t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
        n = 0
        while True:
            for _ in range(20):
                sink.submit(CheckRow(t0 + timedelta(seconds=n), "face-compare", "kill", True, 200, 5))
                n += 1
            await sink.flush()
            print(n, flush=True)
            await asyncio.sleep(0.05)

    asyncio.run(main())
""")


def test_sigkill_loses_at_most_the_unflushed_batch(tmp_path):
    spool_dir = tmp_path / "spool"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(spool_dir), str(closed_port())], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    flushed = 0
    while flushed < 200:
        flushed = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    journal = Spool(spool_dir)
    assert journal.depth >= flushed
    batch, _ = journal.read(100_000)
    assert [r.ts for r in batch] == sorted(r.ts for r in batch) and len(batch) == journal.depth
