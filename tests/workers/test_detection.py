"""Automatic incident detection against real PostgreSQL (docs/sla-math.md "Incidents"): slots written
through the ingest module, detection run with the clock pinned, incidents read back through the API's
own service, the timeline and the audit log."""

import asyncio
from datetime import timedelta

from app.detection.service import REPORTER, detect
from app.incidents import service as incidents
from tests.workers.conftest import T0, write_slots

SERVICE = "face-compare"  # 60 s slots, latency target 7 s, timeout 30 s (services.toml)
MINUTE = timedelta(minutes=1)


async def run(conn, last_slot, auto_resolve_minutes=30):
    return (await detect(conn, SERVICE, last_slot + timedelta(seconds=5), auto_resolve_minutes)).events


async def detected(conn) -> list[dict]:
    """The service's detected incidents as the API shows them."""
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM incidents WHERE detected_service_id = $1 ORDER BY created_at", SERVICE
        )
    ]
    return [(await incidents.get(conn, i)).to_public() for i in ids]


async def test_three_failed_slots_open_one_p1_with_its_evidence(conn):
    last = await write_slots(conn, SERVICE, T0, "......xxx")
    events = await run(conn, last)
    (incident,) = await detected(conn)
    assert [e.kind for e in events] == ["created"] and events[0].incident.id == incident["id"]
    assert (incident["priority"], incident["severity"], incident["status"]) == ("P1", "critical", "investigating")
    assert incident["reporter"] == REPORTER and incident["affectedServices"] == [SERVICE]
    assert incident["detectionCriteria"] == "3 consecutive failed checks"
    (note,) = incident["updates"]
    assert note["author"] == REPORTER and "(HTTP 503 responses ×3)" in note["description"]
    assert "from 2025-08-01 12:06:00 UTC to 2025-08-01 12:08:00 UTC" in note["description"]
    assert await conn.fetchval("SELECT cause FROM incidents") == "failures"
    audit = await conn.fetch(
        "SELECT action, actor_name FROM audit_log WHERE target_id = $1 ORDER BY id", incident["id"]
    )
    assert [(a["action"], a["actor_name"]) for a in audit] == [
        ("incident.create", REPORTER),
        ("detection.open", REPORTER),
    ]


async def test_blips_open_nothing(conn):
    last = await write_slots(conn, SERVICE, T0, "..xx.x.xx..x.")
    assert await run(conn, last) == []
    assert await detected(conn) == []


async def test_a_long_outage_is_one_incident_however_often_detection_runs(conn):
    last = await write_slots(conn, SERVICE, T0, ".....xxx")
    await run(conn, last)
    for _ in range(1, 6):
        last = await write_slots(conn, SERVICE, last + MINUTE, "x")
        assert await run(conn, last) == []
        assert await run(conn, last + 20 * MINUTE) == []  # the cron, later, sees the same slots again
    assert len(await detected(conn)) == 1


async def test_recovery_moves_to_monitoring_once_then_auto_resolves_with_a_note(conn):
    last = await write_slots(conn, SERVICE, T0, ".....xxx")
    await run(conn, last)
    last = await write_slots(conn, SERVICE, last + MINUTE, "....")
    assert await run(conn, last) == []
    last = await write_slots(conn, SERVICE, last + MINUTE, ".")
    (event,) = await run(conn, last)
    (incident,) = await detected(conn)
    assert incident["status"] == "monitoring" and event.update.status == "monitoring"
    assert incident["updates"][0]["description"].startswith("Recovered: 5 consecutive good checks")
    assert await run(conn, last) == [] and len((await detected(conn))[0]["updates"]) == 2
    last = await write_slots(conn, SERVICE, last + MINUTE, "." * 24)  # 29 good slots
    assert await run(conn, last) == []
    last = await write_slots(conn, SERVICE, last + MINUTE, ".")  # the 30th: 30 minutes of good slots
    (event,) = await run(conn, last)
    (incident,) = await detected(conn)
    assert incident["status"] == "resolved" and incident["resolvedAt"] is not None
    assert incident["updates"][0]["description"].startswith("Resolved automatically by the monitoring system")
    assert [
        a
        for (a,) in await conn.fetch(
            "SELECT action FROM audit_log WHERE action LIKE 'detection.%' AND target_id = $1 ORDER BY id",
            incident["id"],
        )
    ] == ["detection.open", "detection.recover", "detection.resolve"]
    last = await write_slots(conn, SERVICE, last + MINUTE, "xxx")  # a new outage is a new incident
    await run(conn, last)
    assert [i["status"] for i in await detected(conn)] == ["resolved", "investigating"]


async def test_no_auto_resolve_when_disabled(conn):
    last = await write_slots(conn, SERVICE, T0, ".....xxx")
    await run(conn, last, auto_resolve_minutes=0)
    last = await write_slots(conn, SERVICE, last + MINUTE, "." * 60)
    await run(conn, last, auto_resolve_minutes=0)
    (incident,) = await detected(conn)
    assert incident["status"] == "monitoring"


async def test_a_recurrence_while_monitoring_is_a_note_not_a_second_incident(conn):
    last = await write_slots(conn, SERVICE, T0, ".....xxx.....")
    await run(conn, last)
    last = await write_slots(conn, SERVICE, last + MINUTE, "xxx")
    (event,) = await run(conn, last)
    (incident,) = await detected(conn)
    assert incident["status"] == "monitoring" and event.update.status == "monitoring"
    assert incident["updates"][0]["description"].startswith("The problem is back: 3 consecutive failed checks")
    last = await write_slots(conn, SERVICE, last + MINUTE, ".....")
    (event,) = await run(conn, last)
    assert event.update.description.startswith("Recovered: 5 consecutive good checks")


async def test_slow_slots_open_a_p3_that_escalates_to_p2(conn):
    last = await write_slots(conn, SERVICE, T0, ".....sss")
    await run(conn, last)
    (incident,) = await detected(conn)
    assert (incident["priority"], incident["severity"]) == ("P3", "medium")
    assert incident["detectionCriteria"] == "3 consecutive responses over 7 s"
    last = await write_slots(conn, SERVICE, last + MINUTE, "SSS")
    (event,) = await run(conn, last)
    (incident,) = await detected(conn)
    assert (incident["priority"], incident["severity"], incident["status"]) == ("P2", "high", "investigating")
    assert incident["detectionCriteria"] == "3 consecutive responses over 15 s"
    assert incident["updates"][0]["description"].startswith("Escalated automatically to P2")
    assert await conn.fetchval("SELECT cause FROM incidents") == "latency_severe"


async def test_very_slow_slots_open_a_p2_and_an_outage_is_its_own_p1(conn):
    last = await write_slots(conn, SERVICE, T0, ".....SSSxxx")
    await run(conn, last)
    assert sorted((i["priority"], i["status"]) for i in await detected(conn)) == [
        ("P1", "investigating"),
        ("P2", "investigating"),
    ]


async def test_a_failed_slot_breaks_a_latency_run(conn):
    last = await write_slots(conn, SERVICE, T0, ".....ssxss")
    assert await run(conn, last) == []


async def test_a_tie_between_regions_fails_the_slot(conn):
    await write_slots(conn, SERVICE, T0, "........", region="seoul")
    last = await write_slots(conn, SERVICE, T0, ".....xxx", region="tokyo")
    await run(conn, last)
    assert [i["priority"] for i in await detected(conn)] == ["P1"]


async def test_a_service_seen_first_judges_only_its_newest_slots(conn):
    last = await write_slots(conn, SERVICE, T0, "xxx" + "." * 20)  # an old outage, long over
    assert await run(conn, last) == []


async def test_slots_in_maintenance_are_not_judged(conn):
    await conn.execute(
        "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) VALUES ('upgrade', $1, $2, $3)",
        [SERVICE],
        T0 + 5 * MINUTE,
        T0 + 15 * MINUTE,
    )
    last = await write_slots(conn, SERVICE, T0, ".....xxxxxxxxxx")  # failures only inside the window
    assert await run(conn, last) == []
    last = await write_slots(conn, SERVICE, last + MINUTE, "xx")  # two more after it: not yet 3
    assert await run(conn, last) == []
    last = await write_slots(conn, SERVICE, last + MINUTE, "x")
    assert [e.kind for e in await run(conn, last)] == ["created"]


async def test_a_person_resolving_during_the_outage_is_not_overruled(conn, pool):
    last = await write_slots(conn, SERVICE, T0, ".....xxx")
    await run(conn, last)
    (incident,) = await detected(conn)
    await conn.execute("UPDATE incidents SET status = 'resolved', resolved_at = now()")
    last = await write_slots(conn, SERVICE, last + MINUTE, "xxxx")
    assert await run(conn, last) == []
    last = await write_slots(conn, SERVICE, last + MINUTE, ".xxx")  # a new run of failures: a new incident
    assert [e.kind for e in await run(conn, last)] == ["created"]


async def test_two_workers_at_once_open_one_incident(conn, pool):
    last = await write_slots(conn, SERVICE, T0, ".....xxx")

    async def one():
        async with pool.acquire() as c:
            return await run(c, last)

    results = await asyncio.gather(*(one() for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert len(await detected(conn)) == 1
