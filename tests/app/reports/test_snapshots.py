"""Closed months are immutable: the table refuses UPDATE/DELETE, a report stays byte-identical after its
raw rows are gone, corrections append audited revisions (API and CLI), any revision stays readable."""

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from app import deps
from app.incidents import queries as incident_queries
from app.periods import month
from app.reports import service as reports
from tests.app.conftest import ROOT, Staff
from tests.app.reports.test_figures import AUGUST, NOW, SID, ZONE, august  # noqa: F401


async def test_the_table_refuses_update_and_delete(conn, august):
    await reports.close_month(conn, AUGUST, NOW, ZONE)
    for statement in (
        "UPDATE report_snapshots SET figures = '{}'::json",
        "UPDATE report_snapshots SET reason = 'x'",
        "DELETE FROM report_snapshots",
    ):
        with pytest.raises(asyncpg.RestrictViolationError, match="immutable"):
            await conn.execute(statement)
    assert await conn.fetchval("SELECT count(*) FROM report_snapshots WHERE service_id = $1", SID) == 1


async def test_a_closed_report_is_byte_identical_after_the_raw_rows_expire(conn, august, make_client):
    await reports.close_month(conn, AUGUST, NOW, ZONE)
    client = await make_client(now=NOW, timezone=ZONE)
    formats = ("json", "csv", "html")
    before = {f: (await client.get(f"/api/sla/reports/{SID}/2025-08.{f}")).content for f in formats}
    before["html-en"] = (await client.get(f"/api/sla/reports/{SID}/2025-08.html?lang=en")).content
    # Retention drops the raw rows (rollups are kept in production; here they go too, and so do the
    # incidents and violations: the snapshot needs none of them).
    for table in (
        "checks",
        "api_calls",
        "rollup_check_slots",
        "rollup_usage_minutes",
        "rollup_checks_hourly",
        "rollup_checks_daily",
        "rollup_usage_daily",
        "rollup_state",
        "rollup_invalidations",
        "slo_violations",
        "incident_updates",
        "incidents",
        "maintenance_windows",
    ):
        await conn.execute(f"DELETE FROM {table}")
    later = await make_client(now=NOW + timedelta(days=400), timezone=ZONE)
    after = {f: (await later.get(f"/api/sla/reports/{SID}/2025-08.{f}")).content for f in formats}
    after["html-en"] = (await later.get(f"/api/sla/reports/{SID}/2025-08.html?lang=en")).content
    assert after == before
    assert json.loads(after["json"])["availability"]["totalChecks"] > 40_000


async def test_revisions_are_appended_audited_and_each_stays_readable(conn, august, staff_db, make_app, make_client):
    app, client_for = make_app(timezone=ZONE)
    app.dependency_overrides[deps.clock] = lambda: NOW
    staff = Staff(staff_db, client_for(), app)
    await reports.close_month(conn, AUGUST, NOW, ZONE)
    client = await make_client(now=NOW, timezone=ZONE)
    first = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    # A late P1 incident is recorded for August: the correction recomputes the month.
    await conn.fetchval(
        incident_queries.INSERT_AT,
        "late",
        "",
        "resolved",
        "critical",
        "P1",
        "ops",
        "",
        [SID],
        None,
        datetime(2025, 8, 30, tzinfo=timezone.utc),
        datetime(2025, 8, 30, 1, tzinfo=timezone.utc),
    )
    url = f"/api/sla/reports/{SID}/2025-08/revisions"
    denied = await staff.client.post(url, json={"reason": "late incident"}, headers=await staff.headers("reporter"))
    assert denied.status_code == 403
    blank = await staff.client.post(url, json={"reason": "   "}, headers=await staff.headers("admin"))
    assert blank.status_code == 422 and "reason" in blank.text
    created = await staff.client.post(
        url, json={"reason": "late P1 incident recorded"}, headers=await staff.headers("admin")
    )
    assert created.status_code == 201, created.text
    assert created.json()["revision"] == 2 and created.json()["author"] == "admin"

    latest = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    assert latest["report"]["revision"] == 2 and latest["report"]["reason"] == "late P1 incident recorded"
    assert latest["incidents"]["summary"]["totalIncidents"] == first["incidents"]["summary"]["totalIncidents"] + 1
    assert [r["revision"] for r in latest["report"]["revisions"]] == [1, 2]
    again = (await client.get(f"/api/sla/reports/{SID}/2025-08.json?revision=1")).json()
    assert {k: v for k, v in again.items() if k != "report"} == {k: v for k, v in first.items() if k != "report"}
    missing = await client.get(f"/api/sla/reports/{SID}/2025-08.json?revision=9")
    assert missing.status_code == 404 and "revision" in missing.text
    listed = (await client.get(url)).json()
    assert [(r["revision"], r["author"]) for r in listed["revisions"]] == [(1, ""), (2, "admin")]

    entries = await conn.fetch(
        "SELECT actor_name, action, target_id, details FROM audit_log WHERE action LIKE 'report.%' ORDER BY id"
    )
    assert [(e["action"], e["actor_name"], e["target_id"]) for e in entries] == [
        ("report.closed", "month close", f"{SID}/2025-08"),
        ("report.revised", "admin", f"{SID}/2025-08"),
    ]
    assert json.loads(entries[1]["details"]) == {"revision": 2, "reason": "late P1 incident recorded"}


async def test_revision_refusals_say_why(conn, august, make_client):
    service = await conn.fetchrow("SELECT * FROM services WHERE id = $1", SID)
    september = month(2025, 9, AUGUST.zone)
    with pytest.raises(Exception, match="still running"):
        await reports.revise(conn, service, september, NOW, ZONE, "x", "me", 400)
    with pytest.raises(Exception, match="not closed yet"):
        await reports.revise(conn, service, AUGUST, NOW, ZONE, "x", "me", 400)
    with pytest.raises(Exception, match="expired"):
        await reports.revise(conn, service, AUGUST, NOW + timedelta(days=500), ZONE, "x", "me", 400)
    assert await conn.fetchval("SELECT count(*) FROM report_snapshots") == 0


async def test_concurrent_revisions_get_distinct_numbers(pool, conn, august):
    await reports.close_month(conn, AUGUST, NOW, ZONE)
    service = await conn.fetchrow("SELECT * FROM services WHERE id = $1", SID)

    async def revise(n):
        async with pool.acquire() as c:
            return (await reports.revise(c, service, AUGUST, NOW, ZONE, f"fix {n}", "me", 400)).revision

    assert sorted(await asyncio.gather(*(revise(n) for n in range(3)))) == [2, 3, 4]


def slamon(database_url: str, *args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_TIMEZONE": ZONE,
        "SLAMON_DATA_DIR": str(tmp_path),
        "SLAMON_SECRET_KEY": "cli-test-secret-0123456789",
        "SLAMON_RAW_RETENTION_DAYS": "3650",
    }  # the test month lies in the past of the real clock
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


async def test_cli_close_revise_and_write(conn, august, staff_db, database_url, tmp_path):
    run = lambda *a: asyncio.to_thread(slamon, database_url, *a, tmp_path=tmp_path)  # noqa: E731
    bad = await run("report", "--service", SID, "--month", "2025-13", "--format", "json")
    assert bad.returncode == 2 and "--month" in bad.stderr
    unknown = await run("report", "--service", "nope", "--month", "2025-08")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    not_closed = await run("report", "revise", "--service", SID, "--month", "2025-08", "--reason", "x")
    assert not_closed.returncode == 1 and "not closed yet" in not_closed.stderr
    closed = await run("report", "close", "--month", "2025-08")
    assert closed.returncode == 0 and SID in closed.stdout, closed.stderr
    revised = await run(
        "report", "revise", "--service", SID, "--month", "2025-08", "--reason", "replayed spool", "--author", "ops-bot"
    )
    assert revised.returncode == 0 and "revision 2" in revised.stdout, revised.stderr
    out = tmp_path / "r.json"
    written = await run("report", "--service", SID, "--month", "2025-08", "--format", "json", "--output", str(out))
    assert written.returncode == 0, written.stderr
    doc = json.loads(out.read_text())
    assert doc["report"]["revision"] == 2 and doc["report"]["author"] == "ops-bot"
    audit = await conn.fetchrow("SELECT actor_name, details FROM audit_log WHERE action = 'report.revised'")
    assert audit["actor_name"] == "ops-bot" and json.loads(audit["details"])["reason"] == "replayed spool"
