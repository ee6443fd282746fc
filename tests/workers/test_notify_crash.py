"""A real `slamon worker` process SIGKILLed while a receiver holds a delivery's response: after a
restart the delivery completes with the same delivery id, deliveries already recorded are never sent
again, and a receiver that de-duplicates on X-SLAMon-Delivery processes each event exactly once."""

import os
import signal
import subprocess
import sys

import pytest

from tests.app.conftest import ROOT
from tests.app.notifications.conftest import delivery_rows, subscribe, wait_until

pytestmark = pytest.mark.slow
INCIDENT = {"title": "Outage", "severity": "critical", "affected_services": ["face-compare"]}


@pytest.fixture
def start_worker(database_url, settings, tmp_path):
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_REDIS_URL": settings.redis_url,
        "SLAMON_SECRET_KEY": "crash-test-secret-0123456789-abcdef",
        "SLAMON_DATA_DIR": str(tmp_path),
        "SLAMON_WEBHOOK_TIMEOUT_S": "3",
        "SLAMON_WEBHOOK_BACKOFF_S": "1",
        "SLAMON_LOG_FORMAT": "text",
    }
    processes: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(processes)}.log", "wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        )
        return processes[-1]

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


async def test_worker_killed_mid_delivery(staff, make_receiver, start_worker):
    receiver = await make_receiver(
        hold=lambda r: (
            r.json["event"] == "incident.status_changed"
            and sum(x.delivery_id == r.delivery_id for x in receiver.requests) == 1
        )
    )
    subscription = await subscribe(staff, url=receiver.url)
    worker = start_worker()
    reporter = await staff.headers("reporter")
    incident = (await staff.client.post("/api/incidents", json=INCIDENT, headers=reporter)).json()["incident"]
    [created] = await receiver.wait_for(1, timeout=60)
    await wait_until(lambda: _delivered(staff.conn, 1), timeout=60)

    await staff.client.put(
        f"/api/incidents/{incident['id']}",
        headers=reporter,
        json={"status": "identified", "note": "found it", "version": 1},
    )
    held = (await receiver.wait_for(2, timeout=60))[1]
    worker.send_signal(signal.SIGKILL)  # mid-delivery: the receiver has the request, the worker no answer
    worker.wait(timeout=30)
    [_, interrupted] = await delivery_rows(staff.conn)
    assert (interrupted["status"], interrupted["attempts"]) == ("pending", 1)
    assert interrupted["lease_until"] is not None

    start_worker()
    requests = await receiver.wait_for(3, timeout=90)
    await wait_until(lambda: _delivered(staff.conn, 2), timeout=60)
    assert requests[2].delivery_id == held.delivery_id  # the same delivery, resent with its id
    assert [r.delivery_id for r in requests].count(created.delivery_id) == 1  # never resent once recorded
    processed = receiver.unique_by_delivery()
    assert sorted(r.json["event"] for r in processed.values()) == ["incident.created", "incident.status_changed"]

    log = (
        await staff.client.get(
            f"/api/subscriptions/{subscription['id']}/deliveries", headers=await staff.headers("admin")
        )
    ).json()["deliveries"]
    resent = next(d for d in log if d["id"] == held.delivery_id)
    assert resent["status"] == "delivered" and resent["attempts"] == 2
    assert [(a["attempt"], a["outcome"]) for a in resent["log"]] == [(1, "unfinished"), (2, "succeeded")]


async def _delivered(conn, count):
    rows = await delivery_rows(conn)
    return len(rows) == count and all(r["status"] == "delivered" for r in rows)
