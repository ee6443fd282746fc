"""The decisions app/backup.py makes around pgBackRest: which backup is due, which backup a point in time
needs, and the times and directories a restore refuses (the restore itself: tests/faults/)."""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app import backup
from app.backup import Backup, RestoreRefused

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)


def made(label: str, kind: str, stop: datetime) -> Backup:
    return Backup(label, kind, stop - timedelta(minutes=5), stop)


FULL = made("F1", "full", NOW - timedelta(days=3))
DIFF = made("F1_D1", "diff", NOW - timedelta(days=1))


@pytest.mark.parametrize(
    "backups, expected",
    [
        ([], "full"),
        ([FULL], "diff"),
        ([FULL, DIFF], "diff"),
        ([made("F0", "full", NOW - timedelta(days=7))], "full"),
        ([made("F0", "full", NOW - timedelta(days=8)), made("F0_D", "diff", NOW - timedelta(hours=1))], "full"),
    ],
)
def test_a_full_backup_is_due_weekly_and_a_differential_otherwise(backups, expected):
    assert backup.due_type(backups, NOW) == expected


def test_a_point_in_time_is_restored_from_the_newest_backup_completed_before_it():
    assert backup.backup_for([FULL, DIFF], NOW - timedelta(hours=2), NOW) == DIFF
    assert backup.backup_for([FULL, DIFF], NOW - timedelta(days=2), NOW) == FULL
    # pgBackRest reports the end to the second: the second it ended in is not yet reachable.
    assert backup.backup_for([FULL, DIFF], DIFF.stopped_at + timedelta(milliseconds=500), NOW) == FULL
    assert backup.backup_for([FULL, DIFF], DIFF.stopped_at + timedelta(seconds=1), NOW) == DIFF


@pytest.mark.parametrize(
    "backups, target, message",
    [
        ([FULL, DIFF], FULL.stopped_at - timedelta(minutes=1), "before the oldest backup (F1"),
        ([FULL], NOW + timedelta(minutes=1), "is in the future"),
        ([], NOW - timedelta(hours=1), "no backup yet"),
    ],
)
def test_a_time_no_backup_reaches_is_refused(backups, target, message):
    with pytest.raises(RestoreRefused, match=message.replace("(", r"\(")):
        backup.backup_for(backups, target, NOW)


def test_info_lists_the_stanzas_backups_oldest_first_with_their_page_errors():
    info = [
        {
            "name": "other",
            "backup": [{"label": "X", "type": "full", "error": False, "timestamp": {"start": 1, "stop": 2}}],
        },
        {
            "name": "slamon",
            "backup": [
                {"label": "B", "type": "diff", "error": False, "timestamp": {"start": 300, "stop": 400}},
                {"label": "A", "type": "full", "error": False, "timestamp": {"start": 100, "stop": 200}},
                {"label": "C", "type": "incr", "error": True, "timestamp": {"start": 500, "stop": 600}},
            ],
        },
    ]
    backups = backup.parse_info(json.dumps(info), "slamon")
    assert [(b.label, b.type, b.stopped_at, b.page_errors) for b in backups] == [
        ("A", "full", datetime.fromtimestamp(200, timezone.utc), False),
        ("B", "diff", datetime.fromtimestamp(400, timezone.utc), False),
        ("C", "incr", datetime.fromtimestamp(600, timezone.utc), True),
    ]
    assert backup.parse_info(json.dumps(info), "missing") == []


def test_a_restore_never_writes_into_a_used_directory(tmp_path):
    (tmp_path / "PG_VERSION").write_text("15\n")
    with pytest.raises(RestoreRefused, match="not an empty directory"):
        backup._prepare_target(tmp_path)


def test_a_missing_config_says_where_it_was_looked_for(tmp_path):
    repo = backup.Repo(tmp_path / "pgbackrest.conf", "slamon")
    with pytest.raises(backup.BackupError, match=f"no pgBackRest config at {tmp_path}"):
        backup.list_backups(repo)


def test_restore_start_without_a_port_is_refused_before_anything_is_done(tmp_path, capsys):
    from app.cli import main

    target = tmp_path / "restored"
    assert main(["restore", "--to", "2026-03-14T09:30:00Z", "--pg-data", str(target), "--start"]) == 2
    assert "--start needs --port" in capsys.readouterr().err
    assert not target.exists()


def test_the_copys_socket_goes_to_tmp_when_its_directory_is_too_deep_for_a_socket_path(tmp_path):
    assert backup.socket_dir(tmp_path) == tmp_path
    deep = tmp_path / ("d" * 100)
    assert backup.socket_dir(deep) == Path("/tmp")
