"""Backup and point-in-time restore (SLO-007): a private stack started by scripts/services.sh (WAL archived
into pgBackRest's repository), rows written by the ingest writer and months frozen, a full and a
differential backup, then a restore to a time T into a fresh cluster holds every row and frozen report up
to T and nothing after it; a page damaged on disk is named by the backup; retention keeps two fulls."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from app import backup, db
from app.config import Settings
from app.ingest.service import CheckRow, write_checks
from app.periods import month
from app.reports import service as reports
from app.services.service import load_catalog, sync_catalog
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.faults

SID = "face-compare"
UTC = ZoneInfo("UTC")
WRITTEN_AT = datetime(2025, 12, 1, tzinfo=timezone.utc)  # the writer's "now": every batch is in its past
COMMAND_TIMEOUT_S = 300


@pytest.fixture
def stack():
    """A private PostgreSQL+Redis under a data dir of its own, on free ports; stopped and removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="slamon-backup-"))
    base.chmod(0o755)  # the postgres user owns the clusters and must reach them
    env = {
        **os.environ,
        "SLAMON_DATA_DIR": str(base / "data"),
        "SLAMON_PG_PORT": str(free_port()),
        "SLAMON_REDIS_PORT": str(free_port()),
        "SLAMON_WAL_ARCHIVE": "on",
    }
    env.pop("SLAMON_DATABASE_URL", None)
    restored = base / "restored"
    try:
        out = subprocess.run(
            [str(ROOT / "scripts/services.sh"), "up"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        ).stdout
        dsn = next(line.split("=", 1)[1] for line in out.splitlines() if "SLAMON_DATABASE_URL=" in line)
        yield {"env": {**env, "SLAMON_DATABASE_URL": dsn}, "dsn": dsn, "base": base, "restored": restored}
    finally:
        if (restored / "postmaster.pid").exists():
            subprocess.run(
                backup._as_pg([backup.pg_bin(restored, "pg_ctl"), "-D", str(restored), "-m", "immediate", "stop"]),
                cwd="/",
                capture_output=True,
                timeout=COMMAND_TIMEOUT_S,
            )
        subprocess.run(
            [str(ROOT / "scripts/services.sh"), "down"], env=env, capture_output=True, timeout=COMMAND_TIMEOUT_S
        )
        shutil.rmtree(base, ignore_errors=True)


def slamon(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=stack["env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )


async def write_month(conn, year: int, month_number: int) -> None:
    """A day of one-minute checks (one failure an hour) early in the month, then the month frozen."""
    start = datetime(year, month_number, 3, tzinfo=timezone.utc)
    rows = [
        CheckRow(start + timedelta(minutes=i), SID, "default", True, 200, 100 + i % 50)
        if i % 60
        else CheckRow(
            start + timedelta(minutes=i), SID, "default", False, 503, 40, "http_error", "503 Service Unavailable"
        )
        for i in range(24 * 60)
    ]
    await write_checks(conn, rows, now=WRITTEN_AT)
    closed = await reports.close_month(conn, month(year, month_number, UTC), WRITTEN_AT, "UTC")
    assert closed == [SID]


async def table_checksums(conn) -> dict[str, tuple[int, str]]:
    """Every table of the schema: its row count and the md5 of its rows in order."""
    tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    sums = {}
    for (table,) in tables:
        row = await conn.fetchrow(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text),"
            f" '')) AS sum FROM public.\"{table}\" t"
        )
        sums[table] = (row["n"], row["sum"])
    return sums


async def frozen_months(conn) -> list[tuple[str, date, int]]:
    return [
        tuple(r) for r in await conn.fetch("SELECT service_id, month, revision FROM report_snapshots ORDER BY 1, 2")
    ]


async def test_restore_to_a_point_in_time_holds_everything_up_to_it_and_nothing_after(stack):
    conn = await asyncpg.connect(stack["dsn"], server_settings=db.SESSION_SETTINGS)
    try:
        assert await conn.fetchval("SHOW data_checksums") == "on"
        await db.migrate(conn)
        await sync_catalog(conn, load_catalog(ROOT / "services.toml"))
        await write_month(conn, 2025, 6)
        before_backup = await conn.fetchval("SELECT clock_timestamp()")

        full = slamon(stack, "backup")  # the first backup is due as a full one
        assert full.returncode == 0, full.stderr
        assert "(full)" in full.stdout
        await write_month(conn, 2025, 7)
        diff = slamon(stack, "backup")  # then a differential, as long as the full one is less than a week old
        assert diff.returncode == 0, diff.stderr
        assert "(diff)" in diff.stdout
        diff_label = diff.stdout.split()[1]
        # pgBackRest gives the backup's end to the second: a restore reaches from the next second on.
        await asyncio.sleep(1.1)

        await write_month(conn, 2025, 8)  # in the WAL only: the restore replays it on top of the diff
        target = await conn.fetchval("SELECT clock_timestamp()")
        at_target = await table_checksums(conn)
        assert at_target["checks"][0] == 3 * 24 * 60

        await write_month(conn, 2025, 9)
        after = await table_checksums(conn)
        assert after["checks"] != at_target["checks"] and after["report_snapshots"] != at_target["report_snapshots"]
        # The WAL past T into the repository now, as archive_timeout would within 5 min (`check` switches
        # the WAL segment and waits until it is archived).
        backup.pgbackrest(
            backup.Repo.from_settings(Settings(data_dir=Path(stack["env"]["SLAMON_DATA_DIR"]))),
            "check",
            "--archive-timeout=240",
            timeout_s=COMMAND_TIMEOUT_S,
        )
    finally:
        await conn.close()

    refused = slamon(
        stack,
        "restore",
        "--to",
        (before_backup - timedelta(seconds=1)).isoformat(),
        "--pg-data",
        str(stack["base"] / "too-early"),
    )
    assert refused.returncode == 2
    assert "before the oldest backup" in refused.stderr
    assert not (stack["base"] / "too-early").exists()

    port = free_port()
    restored = slamon(
        stack,
        "restore",
        "--to",
        target.isoformat(),
        "--pg-data",
        str(stack["restored"]),
        "--port",
        str(port),
        "--start",
        "--timeout",
        "240",
    )
    assert restored.returncode == 0, restored.stderr
    assert f"restored backup {diff_label} " in restored.stdout  # the newest backup before T

    copy = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/slamon")
    try:
        assert await table_checksums(copy) == at_target
        assert await frozen_months(copy) == [
            (SID, date(2025, 6, 1), 1),
            (SID, date(2025, 7, 1), 1),
            (SID, date(2025, 8, 1), 1),
        ]
        assert await copy.fetchval("SELECT count(*) FROM checks WHERE ts >= '2025-09-01'") == 0
        assert await copy.fetchval("SHOW data_checksums") == "on"
        assert await copy.fetchval("SHOW archive_mode") == "off"  # the copy never pushes WAL into the live archive
    finally:
        await copy.close()


async def test_a_damaged_page_is_reported_by_the_backup(stack):
    conn = await asyncpg.connect(stack["dsn"])
    try:
        await conn.execute(
            "CREATE TABLE damaged AS SELECT i AS id, repeat('x', 50) AS note FROM generate_series(1, 1000) i"
        )
        await conn.execute("CHECKPOINT")  # the page on disk as PostgreSQL wrote it, checksum included
        relation = await conn.fetchval("SELECT pg_relation_filepath('damaged')")
    finally:
        await conn.close()
    # Bit rot in the middle of the table's first page, behind PostgreSQL's back.
    with open(Path(stack["env"]["SLAMON_DATA_DIR"]) / "pg" / relation, "r+b") as data_file:
        data_file.seek(4000)
        data_file.write(b"\xa5" * 16)

    taken = slamon(stack, "backup")
    assert taken.returncode == 0, taken.stderr  # pgBackRest keeps the backup, and says which page is bad
    assert "invalid page checksum" in taken.stderr and relation in taken.stderr, taken.stderr
    assert "the cluster's storage is damaged" in taken.stderr
    listed = slamon(stack, "backup", "--list")
    assert listed.returncode == 0 and "(damaged pages copied as found)" in listed.stdout, listed.stdout


def test_retention_keeps_the_two_newest_full_backups_and_restores_start_at_the_older(stack):
    labels = []
    for _ in range(3):
        taken = slamon(stack, "backup", "--type", "full")
        assert taken.returncode == 0, taken.stderr
        labels.append(taken.stdout.split()[1])
    listed = slamon(stack, "backup", "--list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()[:-1]] == labels[1:]  # the first one expired
    earliest = datetime.fromisoformat(listed.stdout.splitlines()[-1].split(": ")[1])
    refused = slamon(
        stack, "restore", "--to", (earliest - timedelta(seconds=1)).isoformat(), "--pg-data", str(stack["restored"])
    )
    assert refused.returncode == 2 and f"oldest backup ({labels[1]}" in refused.stderr, refused.stderr
