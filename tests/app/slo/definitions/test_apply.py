"""`slamon slo apply` and `export` on the real database: one transaction per apply, nothing stored
when any SLO of the files is wrong, outcomes per SLO, audit entries; the CLI run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.slo.definitions import openslo
from app.slo.definitions.model import Definition

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "docs" / "slos" / "sla-document.yaml"
ACTOR = openslo.Actor("cli:test")


@pytest.fixture
async def defs_db(conn):
    await conn.execute("TRUNCATE slo_definitions, audit_log CASCADE")
    yield conn
    await conn.execute("TRUNCATE slo_definitions CASCADE")


async def table(conn) -> list[tuple]:
    rows = await conn.fetch(
        "SELECT name, body::text, source, deleted_at IS NULL AS live FROM slo_definitions ORDER BY name"
    )
    return [tuple(r) for r in rows]


def example() -> list[tuple[str, str]]:
    return [(EXAMPLE.name, EXAMPLE.read_text())]


async def test_apply_creates_then_reports_unchanged_updated_and_pruned(defs_db):
    conn = defs_db
    definitions = await openslo.parse_for(conn, example(), "UTC")
    outcomes = await openslo.apply(conn, definitions, "openslo", ACTOR)
    assert set(outcomes.values()) == {"created"} and len(outcomes) == 12
    stored = await openslo.load(conn)
    assert sorted(stored, key=lambda d: d.name) == sorted(definitions, key=lambda d: d.name)
    row = await conn.fetchrow(
        "SELECT body, source, updated_by FROM slo_definitions WHERE name = $1", definitions[0].name
    )
    assert Definition.from_json(json.loads(row["body"])) == definitions[0]
    assert (row["source"], row["updated_by"]) == ("openslo", "cli:test")

    again = await openslo.apply(conn, definitions, "openslo", ACTOR)
    assert set(again.values()) == {"unchanged"}

    first, *rest = definitions
    changed = Definition.from_json({**first.to_json(), "target": "99.5"})
    outcomes = await openslo.apply(conn, [changed, *rest[:3]], "openslo", ACTOR, prune=True)
    assert outcomes[first.name] == "updated"
    assert [outcomes[d.name] for d in rest[:3]] == ["unchanged"] * 3
    assert sorted(n for n, o in outcomes.items() if o == "deleted") == sorted(d.name for d in rest[3:])
    assert {d.name for d in await openslo.load(conn)} == {first.name, *(d.name for d in rest[:3])}
    # a deleted definition keeps its row; applying it again takes the row over
    assert await conn.fetchval("SELECT count(*) FROM slo_definitions") == 12
    back = await openslo.apply(conn, [rest[5]], "openslo", ACTOR)
    assert back == {rest[5].name: "created"}

    actions = await conn.fetch(
        "SELECT action, target_id, actor_name, details->>'created' AS created FROM audit_log ORDER BY id"
    )
    puts = [a["created"] for a in actions if a["action"] == "slo_definition.put"]
    assert (puts.count("true"), puts.count("false")) == (13, 1)  # created, updated (store.put)
    assert [a["action"] for a in actions].count("slo_definition.delete") == 8
    assert {a["actor_name"] for a in actions} == {"cli:test"}


async def test_a_file_with_one_bad_slo_applies_nothing(defs_db):
    conn = defs_db
    await openslo.apply(conn, await openslo.parse_for(conn, example(), "UTC"), "openslo", ACTOR)
    before = await table(conn)
    docs = list(yaml.safe_load_all(EXAMPLE.read_text()))
    docs[0]["spec"]["objectives"][0]["target"] = 0.9  # a valid change ...
    docs[-1]["spec"]["budgetingMethod"] = "Timeslices"  # ... beside a refused one
    with pytest.raises(openslo.OpenSloError) as caught:
        await openslo.parse_for(conn, [("slos.yaml", yaml.safe_dump_all(docs))], "UTC")
    (problem,) = caught.value.problems
    assert (problem.document, problem.slo, problem.field) == (
        f"slos.yaml#{len(docs)}",
        "slo-006-execution-timeouts",
        "spec.budgetingMethod",
    )
    assert await table(conn) == before


async def test_unknown_or_archived_services_are_problems_naming_the_field(defs_db):
    conn = defs_db
    docs = list(yaml.safe_load_all(EXAMPLE.read_text()))
    del docs[0]["metadata"]["annotations"]  # the examples cover every service ('*'): name one
    docs[0]["spec"]["service"] = "no-such-service"
    docs[-1]["metadata"]["annotations"] = {"slamon/services": "id-recognition,ghost"}
    docs[-1]["spec"]["service"] = "id-recognition"
    with pytest.raises(openslo.OpenSloError) as caught:
        await openslo.parse_for(conn, [("slos.yaml", yaml.safe_dump_all(docs))], "UTC")
    assert [(p.document, p.slo, p.field, p.message) for p in caught.value.problems] == [
        (
            "slos.yaml#1",
            "slo-001-availability",
            "spec.service",
            "unknown or archived service 'no-such-service'",
        ),
        (
            f"slos.yaml#{len(docs)}",
            "slo-006-execution-timeouts",
            "metadata.annotations.slamon/services",
            "unknown or archived service 'ghost'",
        ),
    ]
    assert await table(conn) == []


async def test_tier_definitions_are_refused(defs_db):
    docs = list(yaml.safe_load_all(EXAMPLE.read_text()))
    docs[0]["metadata"]["annotations"] = {"slamon/tier": "enterprise"}
    with pytest.raises(openslo.OpenSloError, match="built-in tier definition: read-only"):
        await openslo.parse_for(defs_db, [("slos.yaml", yaml.safe_dump_all(docs))], "UTC")
    assert await table(defs_db) == []


async def test_dry_run_reports_and_stores_nothing(defs_db):
    definitions = await openslo.parse_for(defs_db, example(), "UTC")
    outcomes = await openslo.apply(defs_db, definitions, "openslo", ACTOR, dry_run=True)
    assert set(outcomes.values()) == {"created"}
    assert await table(defs_db) == []
    assert await defs_db.fetchval("SELECT count(*) FROM audit_log") == 0


# -- the CLI, as a subprocess ----------------------------------------------------------------------


def slamon(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLAMON_DATABASE_URL": database_url, "SLAMON_TIMEZONE": "UTC"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "slo", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


async def test_cli_apply_and_export(defs_db, database_url, tmp_path):
    dry = slamon(database_url, "apply", "-f", str(EXAMPLE), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "slo-001-availability: created (dry run)" in dry.stdout
    assert await table(defs_db) == []

    done = slamon(database_url, "apply", "-f", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": created\n") == 12
    assert "12 created, 0 updated, 0 unchanged, 0 deleted" in done.stderr
    assert slamon(database_url, "apply", "-f", str(EXAMPLE)).stdout.count(": unchanged\n") == 12

    out = tmp_path / "exported.yaml"
    exported = slamon(database_url, "export", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    stored = await openslo.load(defs_db)
    assert openslo.parse([("exported.yaml", out.read_text())], "UTC") == stored

    one = slamon(database_url, "export", "--name", "slo-005-5xx")
    assert one.returncode == 0 and [d.name for d in openslo.parse([("-", one.stdout)], "UTC")] == ["slo-005-5xx"]
    unknown = slamon(database_url, "export", "--name", "nope")
    assert unknown.returncode == 2 and "unknown SLO definition 'nope'" in unknown.stderr


async def test_cli_apply_refuses_a_bad_file_and_names_each_problem(defs_db, database_url, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(EXAMPLE.read_text())
    bad = tmp_path / "bad.yaml"
    docs = list(yaml.safe_load_all(EXAMPLE.read_text()))[:1]
    docs[0]["metadata"]["name"] = "another"
    docs[0]["spec"]["timeWindow"][0]["duration"] = "5x"
    docs[0]["spec"]["foo"] = "bar"
    bad.write_text(yaml.safe_dump_all(docs))
    result = slamon(database_url, "apply", "-f", str(good), "-f", str(bad))
    assert result.returncode == 1
    assert f"{bad}#1 SLO 'another': spec.foo: unknown field 'spec.foo'" in result.stderr
    assert f"{bad}#1 SLO 'another': spec.timeWindow[0].duration: expected a duration" in result.stderr
    assert "2 problems: nothing applied" in result.stderr
    assert await table(defs_db) == []

    missing = slamon(database_url, "apply", "-f", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
