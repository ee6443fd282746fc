"""Escalation resumes (the PRD: an open incident is updated every 30 minutes): acknowledged and quiet
for the reminder interval, the paged are reminded once; still quiet `resume_s` later, the next level
fires at once and the later ones keep their spacing; an update in between keeps it acknowledged. Every
step is in the timeline and the audit log; a new acknowledgement stops it again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from app.escalation import engine
from tests.app.escalation.conftest import make_policy
from tests.app.escalation.test_engine import HORIZON, THREE, _open, _pages, _subscriptions

REMIND_S, RESUME_S = 1800, 600


async def _tick(conn, at: datetime) -> dict[str, int]:
    return await engine.tick(conn, at, HORIZON, REMIND_S, RESUME_S)


async def test_quiet_after_the_reminder_resumes_at_the_next_level(staff, conn):
    await _subscriptions(staff, "l1", "l2", "l3")
    await make_policy(staff, levels=THREE)
    incident = await _open(staff)
    t0 = datetime.fromisoformat(incident["createdAt"])
    assert (await _tick(conn, t0 + timedelta(seconds=1)))["fired"] == 1
    r = await staff.client.post(
        f"/api/incidents/{incident['id']}/acknowledge", headers=await staff.headers("reporter", "oncall-kim")
    )
    acked = datetime.fromisoformat(r.json()["escalation"]["acknowledgedAt"])

    reminded_at = acked + timedelta(seconds=REMIND_S)
    assert (await _tick(conn, reminded_at))["reminded"] == 1
    assert await _tick(conn, reminded_at + timedelta(seconds=RESUME_S - 1)) == {
        "started": 0,
        "fired": 0,
        "closed": 0,
        "reminded": 0,  # one reminder per quiet spell while a level is left to resume at
        "resumed": 0,
    }
    resumed_at = reminded_at + timedelta(seconds=RESUME_S)
    counts = await _tick(conn, resumed_at)
    assert (counts["resumed"], counts["fired"]) == (1, 1)  # level 2 at once
    assert [p[0] for p in await _pages(conn, incident["id"]) if p[1] == "escalation.paged"] == ["l1", "l2"]

    escalation = (
        await staff.client.get(f"/api/incidents/{incident['id']}/escalation", headers=await staff.headers("admin"))
    ).json()["escalation"]
    assert escalation["acknowledgedAt"] is None and escalation["stopReason"] is None
    assert escalation["nextLevel"] == 3  # level 3 keeps its 600 s after level 2
    assert datetime.fromisoformat(escalation["nextAt"]) == resumed_at + timedelta(seconds=600)
    actions = [(e["action"], e["level"], e["actor"]) for e in escalation["timeline"]]
    assert actions == [
        ("started", None, "escalation"),
        ("paged", 1, "escalation"),
        ("acknowledged", None, "oncall-kim"),
        ("reminded", None, "escalation"),
        ("resumed", None, "escalation"),
        ("paged", 2, "escalation"),
    ]
    resumed = escalation["timeline"][4]["details"]
    assert resumed["acknowledgedBy"] == "oncall-kim" and resumed["nextLevel"] == 2
    audit = await conn.fetch(
        "SELECT action FROM audit_log WHERE target_type = 'incident' AND target_id = $1 AND action LIKE 'escalation.%'"
        " ORDER BY id",
        incident["id"],
    )
    assert [a["action"] for a in audit] == [f"escalation.{a[0]}" for a in actions]

    # Acknowledged again: level 3 never fires, and the paged are told again (a new event).
    r = await staff.client.post(f"/api/incidents/{incident['id']}/acknowledge", headers=await staff.headers("admin"))
    assert r.status_code == 200, r.text
    assert (await _tick(conn, resumed_at + timedelta(seconds=700)))["fired"] == 0
    acks = [p for p in await _pages(conn, incident["id"]) if p[1] == "escalation.acknowledged"]
    assert sorted(p[0] for p in acks) == ["l1", "l1", "l2"]  # l1 told twice, l2 once (paged after the first)


async def test_an_update_after_the_reminder_keeps_it_acknowledged(staff, conn):
    """On the real clock (the update's time is the database's): seconds instead of minutes."""
    remind_s, resume_s = 2, 2

    async def tick() -> dict[str, int]:
        return await engine.tick(conn, datetime.now(UTC), HORIZON, remind_s, resume_s)

    await _subscriptions(staff, "l1", "l2")
    await make_policy(staff, levels=THREE[:2])
    incident = await _open(staff)
    await tick()
    r = await staff.client.post(f"/api/incidents/{incident['id']}/acknowledge", headers=await staff.headers("admin"))
    assert r.status_code == 200, r.text
    await asyncio.sleep(remind_s)
    assert (await tick())["reminded"] == 1
    r = await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=await staff.headers("reporter"),
        json={"description": "rolling back", "version": incident["version"]},
    )
    assert r.status_code in (200, 201), r.text
    await asyncio.sleep(remind_s)
    counts = await tick()  # the update ended that quiet spell: a new one, a new reminder, no resumption
    assert (counts["resumed"], counts["reminded"]) == (0, 1)
    await asyncio.sleep(resume_s)
    assert (await tick())["resumed"] == 1


async def test_nothing_left_to_resume_keeps_reminding(staff, conn):
    await _subscriptions(staff, "l1")
    await make_policy(staff, levels=THREE[:1])
    incident = await _open(staff)
    await _tick(conn, datetime.fromisoformat(incident["createdAt"]))
    r = await staff.client.post(f"/api/incidents/{incident['id']}/acknowledge", headers=await staff.headers("admin"))
    acked = datetime.fromisoformat(r.json()["escalation"]["acknowledgedAt"])
    assert (await _tick(conn, acked + timedelta(seconds=REMIND_S)))["reminded"] == 1
    assert (await _tick(conn, acked + timedelta(seconds=REMIND_S + RESUME_S)))["resumed"] == 0
    assert (await _tick(conn, acked + timedelta(seconds=2 * REMIND_S)))["reminded"] == 1
