"""Backups and point-in-time restore through pgBackRest (docs/operations.md, "Backups and restore").

pgBackRest does the work (WAL archiving, base backups, retention, restore); this module decides which
backup is due, picks the backup a point in time needs and refuses the times no backup can reach, and
reports pgBackRest's failures as one readable message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from app.config import Settings

BACKUP_TYPES = ("full", "diff", "incr")
# A full backup a week, a differential on the other days: a restore replays at most a day of WAL on top
# of at most two backups, and two fulls (repo1-retention-full=2) keep one to two weeks restorable.
FULL_EVERY = timedelta(days=7)
PG_USER = "postgres"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


class RestoreRefused(BackupError):
    """A restore asked for something no backup gives (a time before the oldest one, a used directory)."""


@dataclass(frozen=True)
class Repo:
    """How to call pgBackRest for this installation: its config file and the stanza (the cluster's name)."""

    config: Path
    stanza: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Repo:
        config = settings.pgbackrest_config or settings.data_dir / "pgbackrest" / "pgbackrest.conf"
        return cls(Path(config), settings.backup_stanza)


@dataclass(frozen=True)
class Backup:
    label: str
    type: str
    started_at: datetime
    stopped_at: datetime  # as pgBackRest reports it, in whole seconds (truncated)
    # Pages whose checksum failed were found (and copied as they are): the backup restores, damage included.
    page_errors: bool = False

    @property
    def restorable_from(self) -> datetime:
        """The earliest time a restore from this backup can reach: its end, rounded up to the second."""
        return self.stopped_at + timedelta(seconds=1)


def _as_pg(cmd: list[str]) -> list[str]:
    """pgBackRest and PostgreSQL run as the cluster's owner: root hands over, like services.sh `as_pg`."""
    return ["runuser", "-u", PG_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def run_as_pg(cmd: list[str], what: str, timeout_s: float | None = None, warnings: list[str] | None = None) -> str:
    """Run a command as the cluster's owner; BackupError with its own last lines when it fails, its
    warnings (pgBackRest's `WARN:` lines on stderr) added to `warnings` when it succeeds."""
    try:
        # cwd /: the postgres user may not be allowed into the caller's working directory.
        done = subprocess.run(_as_pg(cmd), cwd="/", capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise BackupError(f"{cmd[0]} is not installed (scripts/system-deps.sh installs pgbackrest)") from None
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} did not finish within {timeout_s:.0f} s") from None
    if done.returncode != 0:
        output = "\n".join(line for line in (done.stderr + done.stdout).strip().splitlines()[-8:])
        raise BackupError(f"{what} failed (exit {done.returncode}): {output or 'no output'}")
    if warnings is not None:
        warnings.extend(line for line in done.stderr.splitlines() if line.startswith("WARN"))
    return done.stdout


def pgbackrest(repo: Repo, *args: str, timeout_s: float | None = None, warnings: list[str] | None = None) -> str:
    if not repo.config.is_file():
        raise BackupError(
            f"no pgBackRest config at {repo.config}: scripts/services.sh writes it for a cluster "
            'with WAL archiving (docs/operations.md, "Backups and restore" says how to turn it on)'
        )
    command = next(a for a in args if not a.startswith("-"))
    return run_as_pg(
        ["pgbackrest", f"--config={repo.config}", f"--stanza={repo.stanza}", *args],
        f"pgbackrest {command}",
        timeout_s,
        warnings,
    )


def _ts(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def parse_info(info_json: str, stanza: str) -> list[Backup]:
    """The stanza's backups, oldest first, from `pgbackrest info --output=json`."""
    for entry in json.loads(info_json):
        if entry.get("name") == stanza:
            return sorted(
                (
                    Backup(
                        b["label"],
                        b["type"],
                        _ts(b["timestamp"]["start"]),
                        _ts(b["timestamp"]["stop"]),
                        bool(b.get("error")),
                    )
                    for b in entry.get("backup", [])
                ),
                key=lambda b: b.stopped_at,
            )
    return []


def list_backups(repo: Repo) -> list[Backup]:
    return parse_info(pgbackrest(repo, "info", "--output=json", timeout_s=120), repo.stanza)


def due_type(backups: list[Backup], now: datetime) -> str:
    """full when there is none or the newest is a week old, else diff (against that full)."""
    fulls = [b for b in backups if b.type == "full"]
    if not fulls or now - fulls[-1].stopped_at >= FULL_EVERY:
        return "full"
    return "diff"


def backup(repo: Repo, backup_type: str | None, now: datetime) -> tuple[Backup, list[str]]:
    """Take a backup of the given type, or the one due, and expire old ones (retention); return it and
    pgBackRest's warnings (a page whose checksum fails does not stop a backup: it is a warning)."""
    if backup_type is not None and backup_type not in BACKUP_TYPES:
        raise BackupError(f"unknown backup type {backup_type!r}: one of {', '.join(BACKUP_TYPES)}")
    backup_type = backup_type or due_type(list_backups(repo), now)
    warnings: list[str] = []
    pgbackrest(repo, "backup", f"--type={backup_type}", warnings=warnings)
    backups = list_backups(repo)
    if not backups:
        raise BackupError(f"pgbackrest backup succeeded but `pgbackrest info` lists no backup of stanza {repo.stanza}")
    return backups[-1], warnings


def backup_for(backups: list[Backup], target: datetime, now: datetime) -> Backup:
    """The newest backup that completed before `target`: recovery starts there and replays WAL up to it."""
    if target > now:
        raise RestoreRefused(f"--to {target.isoformat()} is in the future (now {now.isoformat()})")
    if not backups:
        raise RestoreRefused("the repository holds no backup yet: run `slamon backup` first")
    usable = [b for b in backups if b.restorable_from <= target]
    if not usable:
        oldest = backups[0]
        raise RestoreRefused(
            f"--to {target.isoformat()} is before the oldest backup ({oldest.label}, completed "
            f"{oldest.stopped_at.isoformat()}): the earliest time a restore can reach is "
            f"{oldest.restorable_from.isoformat()}"
        )
    return usable[-1]


def _prepare_target(pg_data: Path) -> None:
    """An absent or empty directory, owned by the cluster's user: a restore never overwrites a cluster."""
    if pg_data.exists() and (not pg_data.is_dir() or any(pg_data.iterdir())):
        raise RestoreRefused(
            f"{pg_data} is not an empty directory: restore into a new one (the running cluster is never overwritten)"
        )
    pg_data.mkdir(parents=True, exist_ok=True)
    pg_data.chmod(0o700)
    if os.geteuid() == 0:
        shutil.chown(pg_data, PG_USER)


def socket_dir(pg_data: Path) -> Path:
    """Where the restored copy puts its socket: its own directory, unless the socket's path would pass the
    107 bytes a Unix socket path may have."""
    return pg_data if len(f"{pg_data}/.s.PGSQL.65535".encode()) <= 107 else Path("/tmp")


def restore(repo: Repo, target: datetime, pg_data: Path, now: datetime, port: int | None = None) -> Backup:
    """Restore into a fresh data directory, set to replay WAL up to `target` and then promote."""
    chosen = backup_for(list_backups(repo), target, now)
    pg_data = pg_data.resolve()
    _prepare_target(pg_data)
    target_text = target.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    # archive-mode=off: the copy must never push its own WAL (a new timeline) into the live cluster's archive.
    try:
        pgbackrest(
            repo,
            "restore",
            f"--set={chosen.label}",
            "--type=time",
            f"--target={target_text}",
            "--target-action=promote",
            "--archive-mode=off",
            f"--pg1-path={pg_data}",
        )
    except BackupError as exc:
        raise BackupError(f"{exc}\n{pg_data} may hold part of the restore: empty it before trying again") from None
    if port is not None:
        # The copy runs beside the live cluster: its own port, and its socket in its own directory.
        with (pg_data / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# slamon restore\nport = {port}\nunix_socket_directories = '{socket_dir(pg_data)}'\n")
    return chosen


def pg_bin(pg_data: Path, program: str) -> str:
    """The PostgreSQL program of the restored cluster's major version (Debian keeps each under its own dir)."""
    version = (pg_data / "PG_VERSION").read_text().strip()
    path = Path(f"/usr/lib/postgresql/{version}/bin/{program}")
    return str(path) if path.exists() else program


def _server_log_tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-6:])
    except OSError:
        return "no server log"


def _recovery_failure(log: Path) -> str:
    tail = _server_log_tail(log)
    if "recovery ended before configured recovery target was reached" in tail:
        # The archive holds no commit after the target yet: WAL reaches it when a segment is full or
        # archive_timeout after its first change.
        return (
            "the archive holds no WAL past --to yet (a segment is archived when full or archive_timeout after "
            f"its first change): choose an earlier time or retry later\n{tail}"
        )
    return f"the restored cluster stopped during recovery:\n{tail}"


def start_restored(pg_data: Path, port: int, timeout_s: float = 600) -> None:
    """Start the restored cluster and wait until recovery has reached the target and it was promoted."""
    log = pg_data / "restore-server.log"
    try:
        run_as_pg(
            [pg_bin(pg_data, "pg_ctl"), "-D", str(pg_data), "-l", str(log), "-w", "-t", str(int(timeout_s)), "start"],
            "starting the restored cluster",
            timeout_s + 30,
        )
    except BackupError as exc:
        raise BackupError(f"{exc}\n{_server_log_tail(log)}") from None
    deadline = time.monotonic() + timeout_s
    query = [
        pg_bin(pg_data, "psql"),
        "-h",
        str(socket_dir(pg_data)),
        "-p",
        str(port),
        "-U",
        PG_USER,
        "-d",
        "postgres",
        "-Atqc",
        "SELECT pg_is_in_recovery()",
    ]
    while time.monotonic() < deadline:
        try:
            if run_as_pg(query, "asking the restored cluster", 30).strip() == "f":
                return
        except BackupError:
            if not (pg_data / "postmaster.pid").exists():  # recovery failed and the server stopped
                raise BackupError(_recovery_failure(log)) from None
        time.sleep(0.5)
    raise BackupError(f"recovery did not finish within {timeout_s:.0f} s:\n{_server_log_tail(log)}")
