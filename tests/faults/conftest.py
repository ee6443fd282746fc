"""Fault tests: each starts its own PostgreSQL+TimescaleDB and Redis through the project's own
scripts/services.sh (own data directory, own ports), runs real `slamon` processes against them, and
kills, stops or starves a real process. Every test here is marked `faults`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES_SH = ROOT / "scripts" / "services.sh"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SECRET_KEY = "faults-test-secret-0123456789-abcdefgh"


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.faults)


def _children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (PostgreSQL's backends and auxiliary processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """True until the process is reaped: a zombie still holds its pid, which pg_ctl and PostgreSQL's
    lock file check take for a running server."""
    return Path(f"/proc/{pid}").exists()


def wait_gone(pids: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, f"processes {pids} still alive"
        time.sleep(0.1)


PUSH_ONLY = "nightly-export"  # a push-only service the fault tests add


class Stack:
    """A private PostgreSQL + Redis under `root`, started and stopped by scripts/services.sh."""

    def __init__(self, root: Path):
        self.root = root
        self.app_dir = root / "app"
        self.app_dir.mkdir()
        self.env = {
            **os.environ,
            "SLAMON_DATA_DIR": str(root / "services"),
            "SLAMON_PG_PORT": str(free_port()),
            "SLAMON_REDIS_PORT": str(free_port()),
        }
        self.database_url = self.redis_url = ""
        self.processes: list[subprocess.Popen] = []

    @property
    def pgdata(self) -> Path:
        return self.root / "services" / "pg"

    def up(self) -> None:
        """Start whatever of the two is not running (services.sh is idempotent)."""
        done = subprocess.run([str(SERVICES_SH), "up"], env=self.env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = self.pgdata / "server.log"
            tail = server_log.read_text(errors="replace")[-2000:] if server_log.exists() else ""
            raise AssertionError(f"services.sh up failed: {done.stderr}\n{tail}")
        out = done.stdout
        values = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines() if "=" in line)
        self.database_url, self.redis_url = values["SLAMON_DATABASE_URL"], values["SLAMON_REDIS_URL"]

    def down(self) -> None:
        for process in self.processes:
            # The whole session it leads (start_new_session): `slamon up`'s children too, which would
            # otherwise outlive the test (orphaned, holding their ports and the stack's database).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        subprocess.run([str(SERVICES_SH), "down"], env=self.env, capture_output=True, timeout=120)
        pid = self.postmaster_pid()
        if pid is not None and _alive(pid):  # a crashed cluster that `pg_ctl stop` could not reach
            os.kill(pid, signal.SIGKILL)

    def app_env(self, **extra: str) -> dict:
        """The environment of a `slamon` process of this stack."""
        return {
            **os.environ,
            "SLAMON_DATABASE_URL": self.database_url,
            "SLAMON_REDIS_URL": self.redis_url,
            "SLAMON_SECRET_KEY": SECRET_KEY,
            "SLAMON_DATA_DIR": str(self.app_dir),
            "SLAMON_LOG_FORMAT": "text",
            **extra,
        }

    def slamon(self, *args: str, log_name: str, **extra: str) -> subprocess.Popen:
        """Start `slamon ARGS` as a real process, logging to app/<log_name>.log; killed at teardown."""
        log = open(self.app_dir / f"{log_name}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            cwd=ROOT,
            env=self.app_env(**extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def run(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            cwd=ROOT,
            env=self.app_env(),
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    def log(self, name: str) -> str:
        return (self.app_dir / f"{name}.log").read_text(errors="replace")

    # -- PostgreSQL -----------------------------------------------------------------------------
    def postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill_postgres(self, with_children: bool) -> None:
        """SIGKILL the postmaster (and, with_children, every process it started), then wait until
        every one of them is gone, so that the next start is not refused for shared memory in use."""
        pid = self.postmaster_pid()
        children = _children_of(pid)
        if with_children:
            for child in children:
                with contextlib.suppress(ProcessLookupError):  # one may exit by itself meanwhile
                    os.kill(child, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        wait_gone([pid, *children])

    def stop_postgres(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    # -- Redis ----------------------------------------------------------------------------------
    def redis_pid(self) -> int:
        return int((self.root / "services" / "redis" / "redis.pid").read_text())

    def stop_redis(self) -> None:
        pid = self.redis_pid()
        os.kill(pid, signal.SIGKILL)
        wait_gone([pid])

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.database_url, timeout=10)

    async def push_only_key(self, service_id: str = PUSH_ONLY) -> str:
        """A push-only service (no URL: only its own reporter sends its checks, so the ingest API takes
        its check rows; a probed service's are refused) and a key for it, as `slamon ingest-key create`
        issues it."""
        conn = await self.connect()
        try:
            await conn.execute(
                "INSERT INTO services (id, name, endpoint_url, managed_by) VALUES ($1, 'Push-only', NULL, 'api') "
                "ON CONFLICT (id) DO NOTHING",
                service_id,
            )
        finally:
            await conn.close()
        return self.run("ingest-key", "create", service_id).strip()


@pytest.fixture
def stack():
    root = Path(tempfile.mkdtemp(prefix="slamon-faults-"))
    root.chmod(0o755)  # the cluster belongs to the postgres user, who must reach its folder
    private = Stack(root)
    try:
        private.up()
        private.run("migrate")
        yield private
    finally:
        private.down()
        shutil.rmtree(root, ignore_errors=True)


async def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll an async or plain predicate until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        await asyncio.sleep(interval)


async def http_status(session, url: str) -> int | None:
    """The status of GET url, or None when nothing answers."""
    import aiohttp

    try:
        async with session.get(url) as response:
            await response.read()
            return response.status
    except (TimeoutError, aiohttp.ClientError):
        return None


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


async def add_probed_services(stack: Stack, service_ids: list[str], url: str, interval_s: int = 10) -> None:
    """Services the stack's probers check at `url` (loopback allowed) every `interval_s`."""
    from app.services import queries as service_queries

    conn = await stack.connect()
    try:
        for position, service_id in enumerate(service_ids):
            await conn.fetchrow(
                service_queries.UPSERT,
                service_id,
                service_id,
                "",
                "http",
                url,
                interval_s,
                5,
                7000,
                "developer",
                json.dumps({}),
                True,
                100 + position,
            )
        await conn.execute("UPDATE services SET allow_private = true WHERE id = ANY($1)", service_ids)
    finally:
        await conn.close()


def due_slots(service_ids: list[str], start: float, end: float, interval_s: int = 10) -> set[tuple[str, int]]:
    """Every (service, slot) scheduled in [start, end]."""
    from prober.schedule import offset_s, slot_after

    due = set()
    for service_id in service_ids:
        slot = slot_after(start, interval_s, offset_s(service_id, interval_s))
        while slot <= end:
            due.add((service_id, slot))
            slot += interval_s
    return due


async def stored_slots(stack: Stack, region: str) -> set[tuple[str, int]]:
    conn = await stack.connect()
    try:
        rows = await conn.fetch("SELECT service_id, ts FROM checks WHERE region = $1", region)
    finally:
        await conn.close()
    return {(r["service_id"], int(r["ts"].timestamp())) for r in rows}
