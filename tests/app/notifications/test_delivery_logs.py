"""A failed delivery attempt's log record, as the worker writes it, keeps its delivery id and attempt
number in a JSON line, and its job in a text line."""

from __future__ import annotations

import json
import logging

from app.logs import JsonFormatter, TextFormatter
from app.notifications import delivery
from tests.app.notifications.conftest import subscribe
from workers import notify

INCIDENT = {"title": "Face compare down", "severity": "critical", "affected_services": ["face-compare"]}


async def test_a_failed_attempt_logs_its_delivery_and_attempt(staff, make_receiver, run_worker, caplog):
    receiver = await make_receiver(statuses=[500])
    await subscribe(staff, url=receiver.url)
    ctx = await run_worker()
    await ctx["notify_listener"].close()  # only this test runs the job
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    assert await delivery.dispatch(staff.conn) == 1
    [(delivery_id, _)] = await delivery.due(staff.conn)
    with caplog.at_level(logging.INFO, logger="app.notifications.delivery"):
        assert await notify.notify_deliver(ctx, delivery_id) == "pending"
    [record] = [r for r in caplog.records if r.getMessage() == "notification attempt failed: HTTP 500"]
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["delivery_id"], entry["attempt"], entry["job"]) == (delivery_id, 1, "notify_deliver")
    assert (
        TextFormatter()
        .format(record)
        .endswith("INFO app.notifications.delivery: notification attempt failed: HTTP 500 [job=notify_deliver]")
    )
