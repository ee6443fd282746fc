"""docker-compose.yml cannot be run here (no Docker engine): what can be checked without one is. A
mapping with a key twice is valid YAML to most parsers, which keep the last value silently; that once
dropped the WAL-archiving flags of the database's command for the durability ones."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


def _duplicates(node, path="") -> list[str]:
    found = []
    if isinstance(node, yaml.MappingNode):
        keys = [key.value for key, _ in node.value]
        found += [f"{path}.{k} (line {node.start_mark.line + 1})" for k in sorted(set(keys)) if keys.count(k) > 1]
        for key, value in node.value:
            found += _duplicates(value, f"{path}.{key.value}")
    elif isinstance(node, yaml.SequenceNode):
        for value in node.value:
            found += _duplicates(value, path)
    return found


def test_no_key_is_given_twice():
    assert _duplicates(yaml.compose(COMPOSE.read_text())) == []


def test_the_database_archives_its_wal_and_commits_durably():
    db = yaml.safe_load(COMPOSE.read_text())["services"]["db"]
    flags = dict(db["command"][i + 1].split("=", 1) for i, arg in enumerate(db["command"]) if arg == "-c")
    assert flags["archive_mode"] == "on" and "pgbackrest" in flags["archive_command"]
    assert int(flags["archive_timeout"]) <= 15 * 60  # RPO 15 min (SLO-007)
    assert (flags["synchronous_commit"], flags["fsync"]) == ("on", "on")
    base = next(
        line.split()[1]
        for line in (ROOT / db["build"] / "Dockerfile").read_text().splitlines()
        if line.startswith("FROM ")
    )
    assert base.startswith("timescale/timescaledb:") and "latest" not in base  # a pinned release
