"""Escalation timing across a worker restart: a real `slamon worker` fires level 1, is SIGKILLed, a
new one is started, and level 2 still arrives within 10 s of the incident's start + its delay (the
state is in the database, not the process), and level 1 is never sent again."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime

import pytest

from tests.app.escalation.conftest import make_policy
from tests.app.notifications.conftest import delivery_rows, subscribe, wait_until
from tests.workers.test_notify_crash import start_worker  # noqa: F401 (the real worker process fixture)

pytestmark = pytest.mark.slow
LEVEL_2_DELAY_S = 40
TOLERANCE_S = 10
INCIDENT = {"title": "Outage", "severity": "critical", "affected_services": ["face-compare"]}


@pytest.fixture(autouse=True)
async def clean(conn):
    await conn.execute("TRUNCATE escalation_policies, incident_escalations, escalation_log")


async def test_level_timing_holds_across_a_worker_restart(staff, make_receiver, start_worker):  # noqa: F811
    receiver = await make_receiver()
    for name in ("l1", "l2"):
        await subscribe(staff, name=name, url=receiver.url, events=["escalation.paged"])
    levels = [
        {"delay_seconds": 0, "subscriptions": ["l1"]},
        {"delay_seconds": LEVEL_2_DELAY_S, "subscriptions": ["l2"]},
    ]
    await make_policy(staff, levels=levels)
    worker = start_worker()
    reporter = await staff.headers("reporter")
    incident = (await staff.client.post("/api/incidents", json=INCIDENT, headers=reporter)).json()["incident"]
    started = datetime.fromisoformat(incident["createdAt"]).timestamp()

    [level_1] = await receiver.wait_for(1, timeout=60)
    assert level_1.json["data"]["escalation"]["level"] == 1

    async def recorded():  # the kill is about the timer, not an attempt cut short (test_notify_crash)
        return [r["status"] for r in await delivery_rows(staff.conn)] == ["delivered"]

    await wait_until(recorded)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    start_worker()

    requests = await receiver.wait_for(2, timeout=LEVEL_2_DELAY_S + 60)
    level_2 = requests[1]
    arrived = time.time() - (time.monotonic() - level_2.at)
    assert level_2.json["data"]["escalation"]["level"] == 2
    assert abs(arrived - (started + LEVEL_2_DELAY_S)) <= TOLERANCE_S, arrived - started
    await asyncio.sleep(6)  # a tick later: nothing is sent again
    assert len(receiver.requests) == 2 and level_1.delivery_id != level_2.delivery_id
    timeline = (await staff.client.get(f"/api/incidents/{incident['id']}/escalation", headers=reporter)).json()[
        "escalation"
    ]["timeline"]
    assert [(e["action"], e["level"]) for e in timeline] == [("started", None), ("paged", 1), ("paged", 2)]
