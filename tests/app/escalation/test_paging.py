"""Paging channels end to end: the engine pages through the outbox, the worker's real notification
jobs deliver to loopback receivers, and each receiver checks the service's documented request format.
PagerDuty (Events API v2): trigger → acknowledge → resolve under one dedup key, retried after a 5xx;
Opsgenie (Alert API): create, acknowledge and close by alias; an SMS/voice gateway: signed JSON."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.escalation import engine
from app.notifications import signing
from tests.app.escalation.conftest import make_policy
from tests.app.notifications.conftest import delivery_rows, subscribe, wait_until

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefabcdef"
PAGING_EVENTS = ["escalation.paged", "escalation.acknowledged", "escalation.resolved"]
INCIDENT = {"title": "Face compare down", "severity": "critical", "affected_services": ["face-compare"]}


async def _tick(conn) -> dict[str, int]:
    return await engine.tick(conn, datetime.now(timezone.utc), 86_400)


async def _incident_lifecycle(staff, conn, receiver, count_before_ack: int) -> dict:
    """Open a P1, page level 1, acknowledge, resolve; returns the incident."""
    reporter = await staff.headers("reporter")
    incident = (await staff.client.post("/api/incidents", json=INCIDENT, headers=reporter)).json()["incident"]
    assert (await _tick(conn))["fired"] == 1
    await receiver.wait_for(count_before_ack)
    r = await staff.client.post(f"/api/incidents/{incident['id']}/acknowledge", headers=reporter)
    assert r.status_code == 200, r.text
    await receiver.wait_for(count_before_ack + 1)
    r = await staff.client.put(
        f"/api/incidents/{incident['id']}",
        headers=reporter,
        json={"status": "resolved", "note": "fixed", "version": incident["version"]},
    )
    assert r.status_code == 200, r.text
    assert (await _tick(conn))["closed"] == 1
    await receiver.wait_for(count_before_ack + 2)
    return incident


async def test_pagerduty_trigger_acknowledge_resolve_with_one_dedup_key(staff, conn, make_receiver, run_worker):
    receiver = await make_receiver(statuses=[503])  # the first trigger fails: retried with the same delivery id
    subscription = await subscribe(
        staff, name="on-call", kind="pagerduty", url=receiver.url, secret=ROUTING_KEY, events=PAGING_EVENTS
    )
    await make_policy(staff, levels=[{"delay_seconds": 0, "subscriptions": ["on-call"]}])
    await run_worker()
    incident = await _incident_lifecycle(staff, conn, receiver, 2)

    failed, trigger, ack, resolve = [r for r in receiver.requests]
    assert failed.delivery_id == trigger.delivery_id and failed.body == trigger.body
    dedup = f"slamon-incident-{incident['id']}"
    assert trigger.json == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": dedup,
        "client": "SLA Monitor",
        "payload": {
            "summary": f"Escalation level 1: [P1] {INCIDENT['title']}",
            "source": "sla-monitor",
            "severity": "critical",
            "timestamp": trigger.json["payload"]["timestamp"],
            "class": "escalation.paged",
            "component": "face-compare",
            "custom_details": trigger.json["payload"]["custom_details"],
        },
    }
    assert datetime.fromisoformat(trigger.json["payload"]["timestamp"]).tzinfo is not None
    assert trigger.json["payload"]["custom_details"]["Level"] == "1 of 1 (test)"
    assert ack.json == {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": dedup}
    assert resolve.json == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": dedup}
    for request in receiver.requests:
        assert request.headers["Content-Type"] == "application/json"
        assert "X-SLAMon-Signature" not in request.headers  # the secret is the routing key, not a signing key

    async def settled():
        rows = await delivery_rows(conn, subscription["id"])
        return rows if all(r["status"] == "delivered" for r in rows) else None

    rows = await wait_until(settled)
    assert [(r["event_kind"], r["status"], r["attempts"]) for r in rows] == [
        ("escalation.paged", "delivered", 2),
        ("escalation.acknowledged", "delivered", 1),
        ("escalation.resolved", "delivered", 1),
    ]


async def test_opsgenie_create_acknowledge_close_by_alias(staff, conn, make_receiver, run_worker):
    receiver = await make_receiver()
    await subscribe(
        staff,
        name="opsgenie",
        kind="opsgenie",
        url=receiver.url,
        secret="genie-key-0123456789",
        events=PAGING_EVENTS,
        options={"tags": ["sla"]},
    )
    await make_policy(staff, levels=[{"delay_seconds": 0, "subscriptions": ["opsgenie"]}])
    await run_worker()
    incident = await _incident_lifecycle(staff, conn, receiver, 1)

    alias = f"slamon-incident-{incident['id']}"
    create, ack, close = receiver.requests
    assert [r.path for r in receiver.requests] == [
        "/hook/v2/alerts",
        f"/hook/v2/alerts/{alias}/acknowledge?identifierType=alias",
        f"/hook/v2/alerts/{alias}/close?identifierType=alias",
    ]
    assert all(r.headers["Authorization"] == "GenieKey genie-key-0123456789" for r in receiver.requests)
    body = create.json
    assert body["alias"] == alias and body["priority"] == "P1" and body["source"] == "sla-monitor"
    assert body["message"] == f"Escalation level 1: [P1] {INCIDENT['title']}" and len(body["message"]) <= 130
    assert body["tags"] == ["sla", "face-compare"] and body["entity"] == "face-compare"
    assert ack.json["source"] == "sla-monitor" and ack.json["user"] == "SLA Monitor"
    assert close.json["note"].startswith("Resolved: [P1]")


async def test_sms_gateway_gets_signed_json(staff, conn, make_receiver, run_worker):
    receiver = await make_receiver()
    subscription = await subscribe(
        staff,
        name="sms",
        kind="sms",
        url=receiver.url,
        events=["escalation.paged"],
        options={"recipients": ["+821012345678"], "voice": True, "max_length": 70},
    )
    await make_policy(staff, levels=[{"delay_seconds": 0, "subscriptions": ["sms"]}])
    await run_worker()
    reporter = await staff.headers("reporter")
    long_title = INCIDENT | {"title": "Face compare down in every region at once, all calls failing"}
    incident = (await staff.client.post("/api/incidents", json=long_title, headers=reporter)).json()["incident"]
    await _tick(conn)
    [page] = await receiver.wait_for(1)
    assert page.json == {
        "to": ["+821012345678"],
        "mode": "voice",
        "text": page.json["text"],
        "event": "escalation.paged",
        "incidentId": incident["id"],
        "deliveryId": page.delivery_id,
    }
    assert len(page.json["text"]) == 70 and page.json["text"].startswith("SLA Monitor: Escalation level 1")
    assert signing.verify(subscription["secret"], page.headers["X-SLAMon-Signature"], page.body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "pagerduty", "url": "https://events.pagerduty.com/v2/enqueue"}, "secret"),
        ({"kind": "opsgenie", "url": "https://api.opsgenie.com"}, "secret"),
        ({"kind": "sms", "url": "https://sms.example.com/send"}, "options.recipients"),
        (
            {"kind": "sms", "url": "https://sms.example.com/send", "options": {"recipients": ["010-1234"]}},
            "options.recipients.0",
        ),
    ],
)
async def test_paging_subscriptions_are_checked_naming_the_field(staff, body, field):
    r = await staff.client.post("/api/subscriptions", json={"name": "x", **body}, headers=await staff.headers("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["field"] == field, r.json()
