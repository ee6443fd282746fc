"""The escalation engine with the clock in the test's hands: levels fire at their delays, once each
(however many ticks, however late, however many workers), acknowledgement stops the next level,
resolution closes the escalation, and every step is in the timeline and the audit log."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from app.escalation import engine
from app.formatting import utc_iso
from tests.app.escalation.conftest import make_policy
from tests.app.notifications.conftest import subscribe

HORIZON = 86_400
INCIDENT = {"title": "Face compare down", "severity": "critical", "affected_services": ["face-compare"]}
THREE = [
    {"delay_seconds": 0, "subscriptions": ["l1"]},
    {"delay_seconds": 300, "subscriptions": ["l2"]},
    {"delay_seconds": 900, "subscriptions": ["l3", "nobody"]},
]


async def _open(staff, **fields) -> dict:
    r = await staff.client.post("/api/incidents", json=INCIDENT | fields, headers=await staff.headers("reporter"))
    assert r.status_code == 201, r.text
    return r.json()["incident"]


async def _pages(conn, incident_id: str) -> list[tuple[str, str, str]]:
    rows = await conn.fetch(
        """SELECT s.name, e.kind, e.event_key FROM notification_deliveries d
           JOIN notification_events e ON e.id = d.event_id JOIN subscriptions s ON s.id = d.subscription_id
           WHERE e.event_key LIKE 'escalation:' || $1 || ':%' ORDER BY e.id, s.name""",
        incident_id,
    )
    return [(r["name"], r["kind"], r["event_key"].rsplit(":", 1)[-1]) for r in rows]


async def _subscriptions(staff, *names: str) -> None:
    for name in names:
        await subscribe(staff, name=name, url="http://127.0.0.1:9/hook", events=["escalation.paged"])


async def test_levels_fire_at_their_delays_once_ack_stops_resolution_closes(staff, conn):
    await _subscriptions(staff, "l1", "l2", "l3")
    await make_policy(staff, levels=THREE)
    incident = await _open(staff)
    t0 = datetime.fromisoformat(incident["createdAt"])

    assert await engine.tick(conn, t0 + timedelta(seconds=1), HORIZON) == {
        "started": 1,
        "fired": 1,
        "closed": 0,
        "reminded": 0,
        "resumed": 0,
    }
    assert await engine.tick(conn, t0 + timedelta(seconds=299), HORIZON) == {
        "started": 0,
        "fired": 0,
        "closed": 0,
        "reminded": 0,
        "resumed": 0,
    }
    assert await _pages(conn, incident["id"]) == [("l1", "escalation.paged", "1")]
    assert (await engine.tick(conn, t0 + timedelta(seconds=300), HORIZON))["fired"] == 1
    assert (await engine.tick(conn, t0 + timedelta(seconds=301), HORIZON))["fired"] == 0
    assert await _pages(conn, incident["id"]) == [("l1", "escalation.paged", "1"), ("l2", "escalation.paged", "2")]

    r = await staff.client.post(
        f"/api/incidents/{incident['id']}/acknowledge", headers=await staff.headers("reporter", "oncall-kim")
    )
    assert r.status_code == 200, r.text
    escalation = r.json()["escalation"]
    assert escalation["acknowledgedBy"] == "oncall-kim" and escalation["stopReason"] == "acknowledged"
    assert escalation["nextLevel"] is None and escalation["nextAt"] is None
    again = await staff.client.post(
        f"/api/incidents/{incident['id']}/acknowledge", headers=await staff.headers("admin")
    )
    assert again.status_code == 409 and "oncall-kim" in again.json()["message"]

    assert (await engine.tick(conn, t0 + timedelta(seconds=2000), HORIZON))["fired"] == 0  # level 3 never fires
    r = await staff.client.put(
        f"/api/incidents/{incident['id']}",
        headers=await staff.headers("reporter"),
        json={"status": "resolved", "note": "fixed", "version": incident["version"]},
    )
    assert r.status_code == 200, r.text
    assert (await engine.tick(conn, t0 + timedelta(seconds=2001), HORIZON))["closed"] == 1
    assert (await engine.tick(conn, t0 + timedelta(seconds=2002), HORIZON))["closed"] == 0
    assert await _pages(conn, incident["id"]) == [
        ("l1", "escalation.paged", "1"),
        ("l2", "escalation.paged", "2"),
        ("l1", "escalation.acknowledged", "acknowledged"),
        ("l2", "escalation.acknowledged", "acknowledged"),
        ("l1", "escalation.resolved", "resolved"),
        ("l2", "escalation.resolved", "resolved"),
    ]

    r = await staff.client.get(f"/api/incidents/{incident['id']}/escalation", headers=await staff.headers("viewer"))
    escalation = r.json()["escalation"]
    assert escalation["stopReason"] == "resolved" and escalation["policyId"] == "test"
    timeline = [(e["action"], e["level"], e["actor"]) for e in escalation["timeline"]]
    assert timeline == [
        ("started", None, "escalation"),
        ("paged", 1, "escalation"),
        ("paged", 2, "escalation"),
        ("acknowledged", None, "oncall-kim"),
        ("resolved", None, "escalation"),
    ]
    assert escalation["timeline"][2]["details"]["dueAt"] == utc_iso(t0 + timedelta(seconds=300))
    audit = await conn.fetch(
        "SELECT action, actor_name FROM audit_log WHERE target_type = 'incident' AND target_id = $1 "
        "AND action LIKE 'escalation.%' ORDER BY id",
        incident["id"],
    )
    assert [(a["action"], a["actor_name"]) for a in audit] == [
        ("escalation.started", "escalation"),
        ("escalation.paged", "escalation"),
        ("escalation.paged", "escalation"),
        ("escalation.acknowledged", "oncall-kim"),
        ("escalation.resolved", "escalation"),
    ]


async def test_overdue_levels_fire_in_order_once_with_concurrent_workers(staff, conn, pool):
    """A worker that was down past several delays fires each missed level once, in order; two
    workers ticking at once never fire a level twice. A missing subscription is named in the log."""
    await _subscriptions(staff, "l1", "l2", "l3")
    await make_policy(staff, levels=THREE)
    incident = await _open(staff)
    late = datetime.fromisoformat(incident["createdAt"]) + timedelta(seconds=1000)
    await engine.start(conn, late, HORIZON)

    async def tick() -> list[tuple[str, int]]:
        async with pool.acquire() as c:
            return await engine.fire_due(c, late)

    results = await asyncio.gather(*(tick() for _ in range(4)))
    assert sorted(f for r in results for f in r) == [(incident["id"], 1), (incident["id"], 2), (incident["id"], 3)]
    assert [p[0] for p in await _pages(conn, incident["id"])] == ["l1", "l2", "l3"]
    log = await conn.fetch(
        "SELECT level, details FROM escalation_log WHERE incident_id = $1 AND action = 'paged' ORDER BY id",
        incident["id"],
    )
    assert [r["level"] for r in log] == [1, 2, 3]
    assert '"missing": ["nobody"]' in log[2]["details"]


async def test_conditions_choose_the_policy_and_levels(staff, conn):
    await _subscriptions(staff, "l1", "exec")
    levels = [
        {"delay_seconds": 0, "subscriptions": ["l1"]},
        {"delay_seconds": 60, "subscriptions": ["exec"], "priorities": ["P1"]},
    ]
    await make_policy(staff, id="p1-p2", priorities=["P1", "P2"], services=["face-compare"], levels=levels)
    p1 = await _open(staff, priority="P1")
    p2 = await _open(staff, priority="P2")
    p3 = await _open(staff, priority="P3")
    other = await _open(staff, priority="P1", affected_services=["id-liveness"])
    later = datetime.fromisoformat(other["createdAt"]) + timedelta(seconds=120)
    assert (await engine.tick(conn, later, HORIZON))["started"] == 2
    assert [p[0] for p in await _pages(conn, p1["id"])] == ["l1", "exec"]
    assert [p[0] for p in await _pages(conn, p2["id"])] == ["l1"]  # level 2 is for P1 only
    for unmatched in (p3, other):
        assert await _pages(conn, unmatched["id"]) == []
        r = await staff.client.post(
            f"/api/incidents/{unmatched['id']}/acknowledge", headers=await staff.headers("admin")
        )
        assert r.status_code == 409 and "no escalation" in r.json()["message"]
        r = await staff.client.get(f"/api/incidents/{unmatched['id']}/escalation", headers=await staff.headers("admin"))
        assert r.status_code == 200 and r.json() == {"escalation": None}
    assert (
        await staff.client.post("/api/incidents/nope/acknowledge", headers=await staff.headers("admin"))
    ).status_code == 404
    assert (
        await staff.client.post(f"/api/incidents/{p1['id']}/acknowledge", headers=await staff.headers("viewer"))
    ).status_code == 403


async def test_acknowledged_before_the_first_tick_starts_it_stopped(staff, conn):
    await _subscriptions(staff, "l1")
    await make_policy(staff, levels=THREE[:1])
    incident = await _open(staff)
    r = await staff.client.post(f"/api/incidents/{incident['id']}/acknowledge", headers=await staff.headers("admin"))
    assert r.status_code == 200, r.text
    assert [e["action"] for e in r.json()["escalation"]["timeline"]] == ["started", "acknowledged"]
    assert (await engine.tick(conn, datetime.fromisoformat(incident["createdAt"]) + timedelta(seconds=5), HORIZON))[
        "fired"
    ] == 0
    assert await _pages(conn, incident["id"]) == []


async def test_an_acknowledged_quiet_incident_gets_reminders(staff, conn):
    """Acknowledged and not updated for the reminder interval: the paged subscriptions are reminded,
    once per quiet interval; an update restarts the count; resolution ends it."""
    await _subscriptions(staff, "l1")
    await make_policy(staff, levels=THREE[:1])
    incident = await _open(staff)
    t0 = datetime.fromisoformat(incident["createdAt"])
    await engine.tick(conn, t0, HORIZON, 1800)
    r = await staff.client.post(f"/api/incidents/{incident['id']}/acknowledge", headers=await staff.headers("admin"))
    acked = datetime.fromisoformat(r.json()["escalation"]["acknowledgedAt"])

    assert (await engine.tick(conn, acked + timedelta(seconds=1799), HORIZON, 1800))["reminded"] == 0
    assert (await engine.tick(conn, acked + timedelta(seconds=1800), HORIZON, 1800))["reminded"] == 1
    assert (await engine.tick(conn, acked + timedelta(seconds=1810), HORIZON, 1800))["reminded"] == 0
    assert (await engine.tick(conn, acked + timedelta(seconds=3600), HORIZON, 1800))["reminded"] == 1
    kinds = [p[1] for p in await _pages(conn, incident["id"])]
    assert kinds == ["escalation.paged", "escalation.acknowledged", "escalation.reminder", "escalation.reminder"]

    r = await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=await staff.headers("reporter"),
        json={"description": "still on it", "version": incident["version"]},
    )
    assert r.status_code in (200, 201), r.text
    updated = datetime.now(t0.tzinfo)
    assert (await engine.tick(conn, updated + timedelta(seconds=1700), HORIZON, 1800))["reminded"] == 0
    assert (await engine.tick(conn, updated + timedelta(seconds=7200), HORIZON, 0))["reminded"] == 0  # 0: off
    entries = await conn.fetch("SELECT action FROM escalation_log WHERE incident_id = $1 ORDER BY id", incident["id"])
    assert [e["action"] for e in entries] == ["started", "paged", "acknowledged", "reminded", "reminded"]
