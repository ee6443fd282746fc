"""The outbox: incident events are written in the transaction of the incident write (a write that
fails or rolls back leaves none); the scan turns SLO violations and maintenance windows into events
once each, by key, and leaves history older than the horizon alone."""

from datetime import datetime, timedelta, timezone

from app.auth.service import Principal
from app.incidents import service as incidents
from app.incidents.models import IncidentCreate
from app.notifications import outbox

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=timezone.utc)
HORIZON_S = 86_400
ACTOR = Principal(user_id=None, username="ops", role="reporter", session_id="s", token_version=0)


async def events(conn) -> list[tuple[str, str]]:
    return [
        (r["event_key"], r["kind"])
        for r in await conn.fetch("SELECT event_key, kind FROM notification_events ORDER BY id")
    ]


async def test_incident_writes_record_their_events(staff):
    reporter = await staff.headers("reporter")
    incident = (
        await staff.client.post("/api/incidents", headers=reporter, json={"title": "t", "severity": "low"})
    ).json()["incident"]
    base = f"/api/incidents/{incident['id']}"
    await staff.client.put(base, headers=reporter, json={"title": "renamed", "version": 1})  # no status change
    await staff.client.post(f"{base}/updates", headers=reporter, json={"description": "still looking", "version": 2})
    await staff.client.put(base, headers=reporter, json={"status": "monitoring", "note": "fix out", "version": 3})
    await staff.client.put(base, headers=reporter, json={"status": "resolved", "note": "done", "version": 4})
    await staff.client.put(base, headers=reporter, json={"status": "investigating", "note": "back", "version": 5})
    key = f"incident:{incident['id']}"
    assert await events(staff.conn) == [
        (f"{key}:created", "incident.created"),
        (f"{key}:v3", "incident.updated"),  # a timeline update without a status change (the rename: none)
        (f"{key}:v4", "incident.status_changed"),
        (f"{key}:v5", "incident.resolved"),
        (f"{key}:v6", "incident.status_changed"),
    ]


async def test_a_refused_write_records_nothing(staff):
    reporter = await staff.headers("reporter")
    incident = (
        await staff.client.post("/api/incidents", headers=reporter, json={"title": "t", "severity": "low"})
    ).json()["incident"]
    stale = await staff.client.put(
        f"/api/incidents/{incident['id']}", headers=reporter, json={"status": "resolved", "note": "x", "version": 7}
    )
    assert stale.status_code == 409
    assert len(await events(staff.conn)) == 1


async def test_a_rolled_back_write_records_nothing(conn):
    transaction = conn.transaction()
    await transaction.start()
    await incidents.create(conn, IncidentCreate(title="t", severity="low"), ACTOR)
    assert len(await events(conn)) == 1
    await transaction.rollback()
    assert await events(conn) == []
    assert await conn.fetchval("SELECT count(*) FROM incidents") == 0


async def test_scan_turns_violations_and_windows_into_events_once(conn):
    open_id = await conn.fetchval(
        """INSERT INTO slo_violations (service_id, slo, severity, started_at, threshold)
           VALUES ('face-compare', 'latency_p95', 'WARNING', $1, 7000) RETURNING id""",
        NOW - timedelta(minutes=10),
    )
    closed_id = await conn.fetchval(
        """INSERT INTO slo_violations (service_id, slo, severity, started_at, ended_at, threshold)
           VALUES ('id-recognition', 'availability', 'CRITICAL', $1, $2, 99.9) RETURNING id""",
        NOW - timedelta(hours=2),
        NOW - timedelta(minutes=5),
    )
    await conn.execute(
        """INSERT INTO slo_violations (service_id, slo, severity, started_at, ended_at, threshold)
                          VALUES ('face-compare', 'error_rate', 'WARNING', $1, $2, 1)""",
        NOW - timedelta(days=3),
        NOW - timedelta(days=2),
    )  # history: before the horizon
    running = await conn.fetchval(
        """INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at, created_at)
           VALUES ('running', '{face-compare}', $1, $2, $3) RETURNING id""",
        NOW - timedelta(minutes=1),
        NOW + timedelta(hours=1),
        NOW - timedelta(days=1),
    )
    await conn.execute(
        """INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at, created_at)
                          VALUES ('future', '{face-compare}', $1, $2, $3)""",
        NOW + timedelta(hours=1),
        NOW + timedelta(hours=2),
        NOW - timedelta(days=1),
    )
    await conn.execute(
        """INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at, created_at)
                          VALUES ('recorded afterwards', '{face-compare}', $1, $2, $3)""",
        NOW - timedelta(hours=3),
        NOW - timedelta(hours=2),
        NOW,
    )
    start = int((NOW - timedelta(minutes=1)).timestamp())
    expected = [
        f"slo:{closed_id}:opened",
        f"slo:{closed_id}:closed",
        f"slo:{open_id}:opened",
        f"maintenance:{running}:started:{start}",
    ]
    assert sorted(await outbox.scan(conn, NOW, HORIZON_S)) == sorted(expected)
    assert await outbox.scan(conn, NOW, HORIZON_S) == []  # idempotent
    # Time passes: the running window ends; rescheduling a window announces its new start.
    later = NOW + timedelta(hours=1, minutes=1)
    await conn.execute(
        "UPDATE maintenance_windows SET starts_at = $1 WHERE title = 'future'", NOW + timedelta(minutes=30)
    )
    keys = sorted(await outbox.scan(conn, later, HORIZON_S))
    future = await conn.fetchval("SELECT id FROM maintenance_windows WHERE title = 'future'")
    assert keys == sorted(
        [
            f"maintenance:{future}:started:{int((NOW + timedelta(minutes=30)).timestamp())}",
            f"maintenance:{running}:ended:{int((NOW + timedelta(hours=1)).timestamp())}",
        ]
    )
    kinds = dict(await events(conn))
    assert kinds[f"slo:{closed_id}:closed"] == "slo_violation.closed"
    assert kinds[f"maintenance:{running}:started:{start}"] == "maintenance.started"
