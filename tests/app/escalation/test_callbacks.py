"""The paging services call back: a PagerDuty webhook v3 (incident.acknowledged, incident.resolved)
signed with X-PagerDuty-Signature v1=HMAC-SHA256, and Opsgenie's webhook integration (Acknowledge,
Close) with its shared token header, each acknowledge the incident their dedup key / alias names.
Every verified callback is audited; an unsigned, mis-signed or unconfigured one is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest

from app.escalation import engine
from tests.app.escalation.conftest import make_policy
from tests.app.escalation.test_engine import HORIZON, _open, _subscriptions

SECRET = "pd-webhook-secret-0123456789abcdef"
TOKEN = "opsgenie-callback-token-0123456789"
PD = "/api/escalation/callbacks/pagerduty"
OG = "/api/escalation/callbacks/opsgenie"


def pagerduty_event(event_type: str, incident_key: str) -> bytes:
    """A webhook v3 delivery as PagerDuty documents it (event, agent, data of the incident)."""
    return json.dumps(
        {
            "event": {
                "id": "01DEN7QSHZE4QB2UIHKCQ3M5TY",
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": "2026-12-03T09:05:00.000Z",
                "agent": {"id": "PLH1HKV", "type": "user_reference", "summary": "Kim On-call"},
                "client": None,
                "data": {
                    "id": "PGR0VU2",
                    "type": "incident",
                    "number": 2,
                    "status": event_type.split(".")[1],
                    "incident_key": incident_key,
                    "title": "Escalation level 1",
                },
            }
        }
    ).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    # Two signatures during a secret rotation: one with an old secret, one valid.
    old = hmac.new(b"an-old-secret", body, hashlib.sha256).hexdigest()
    new = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-PagerDuty-Signature": f"v1={old},v1={new}", "Content-Type": "application/json"}


@pytest.fixture
async def paged(staff, conn):
    await _subscriptions(staff, "l1", "l2")
    await make_policy(
        staff, levels=[{"delay_seconds": 0, "subscriptions": ["l1"]}, {"delay_seconds": 60, "subscriptions": ["l2"]}]
    )
    incident = await _open(staff)
    t0 = datetime.fromisoformat(incident["createdAt"])
    assert (await engine.tick(conn, t0 + timedelta(seconds=1), HORIZON))["fired"] == 1
    return incident, t0


@pytest.fixture
def client(make_app):
    _, make_client = make_app(pagerduty_webhook_secret=SECRET, opsgenie_callback_token=TOKEN)
    return make_client()


async def test_pagerduty_acknowledgement_stops_the_escalation(client, staff, conn, paged):
    incident, t0 = paged
    key = f"slamon-incident-{incident['id']}"
    body = pagerduty_event("incident.acknowledged", key)
    assert (await client.post(PD, content=body, headers={"Content-Type": "application/json"})).status_code == 401
    bad = signed(body, "not-the-secret")
    assert (await client.post(PD, content=body, headers=bad)).status_code == 401
    tampered = await client.post(PD, content=body.replace(b"Kim", b"Eve"), headers=signed(body))
    assert tampered.status_code == 401 and tampered.json()["error"] == "unauthorized"

    r = await client.post(PD, content=body, headers=signed(body))
    assert r.status_code == 200, r.text
    assert r.json() == {"result": "acknowledged", "incidentId": incident["id"], "message": "acknowledged in pagerduty"}
    again = await client.post(PD, content=body, headers=signed(body))  # PagerDuty retries: nothing changes
    assert again.json()["result"] == "unchanged"
    assert (await engine.tick(conn, t0 + timedelta(seconds=120), HORIZON))["fired"] == 0

    escalation = (
        await staff.client.get(f"/api/incidents/{incident['id']}/escalation", headers=await staff.headers("admin"))
    ).json()["escalation"]
    assert escalation["acknowledgedBy"] == "pagerduty:Kim On-call"
    ack = escalation["timeline"][-1]
    assert ack["details"]["via"] == "pagerduty" and ack["details"]["event"]["eventType"] == "incident.acknowledged"
    audit = await conn.fetch(
        "SELECT action, actor_name, details FROM audit_log WHERE target_id = $1 AND action LIKE 'escalation.%'"
        " ORDER BY id",
        incident["id"],
    )
    assert [(a["action"], a["actor_name"]) for a in audit][-3:] == [
        ("escalation.acknowledged", "pagerduty:Kim On-call"),
        ("escalation.callback.pagerduty", "pagerduty:Kim On-call"),
        ("escalation.callback.pagerduty", "pagerduty:Kim On-call"),
    ]
    assert [json.loads(a["details"])["result"] for a in audit[-2:]] == ["acknowledged", "unchanged"]


async def test_pagerduty_resolution_stops_it_and_other_events_are_ignored(client, conn, paged):
    incident, t0 = paged
    other = pagerduty_event("incident.priority_updated", f"slamon-incident-{incident['id']}")
    assert (await client.post(PD, content=other, headers=signed(other))).json()["result"] == "ignored"
    foreign = pagerduty_event("incident.acknowledged", "someone-elses-alert")
    assert (await client.post(PD, content=foreign, headers=signed(foreign))).json()["result"] == "ignored"
    unknown = pagerduty_event("incident.acknowledged", "slamon-incident-NOPE-1")
    assert (await client.post(PD, content=unknown, headers=signed(unknown))).json()["result"] == "unchanged"
    resolved = pagerduty_event("incident.resolved", f"slamon-incident-{incident['id']}")
    r = await client.post(PD, content=resolved, headers=signed(resolved))
    assert r.json()["result"] == "acknowledged" and r.json()["message"] == "resolved in pagerduty"
    assert (await engine.tick(conn, t0 + timedelta(seconds=120), HORIZON))["fired"] == 0
    not_json = b"{not json"
    assert (await client.post(PD, content=not_json, headers=signed(not_json))).status_code == 422


async def test_opsgenie_acknowledge_by_alias(client, conn, paged):
    incident, t0 = paged
    body = {
        "action": "Acknowledge",
        "alert": {
            "alertId": "8418d193-2dab-4490",
            "alias": f"slamon-incident-{incident['id']}",
            "username": "kim@example.com",
        },
        "source": {"name": "web", "type": "web"},
        "integrationName": "SLA Monitor callback",
    }
    assert (await client.post(OG, json=body)).status_code == 401
    assert (await client.post(OG, json=body, headers={"X-SLAMon-Callback-Token": "wrong"})).status_code == 401
    r = await client.post(OG, json=body, headers={"X-SLAMon-Callback-Token": TOKEN})
    assert r.status_code == 200 and r.json()["result"] == "acknowledged", r.text
    assert (await engine.tick(conn, t0 + timedelta(seconds=120), HORIZON))["fired"] == 0
    actor = await conn.fetchval(
        "SELECT actor FROM escalation_log WHERE incident_id = $1 AND action = 'acknowledged'", incident["id"]
    )
    assert actor == "opsgenie:kim@example.com"


async def test_callbacks_are_off_until_configured(staff):
    body = pagerduty_event("incident.acknowledged", "slamon-incident-X")
    r = await staff.client.post(PD, content=body, headers=signed(body))
    assert r.status_code == 404 and "SLAMON_PAGERDUTY_WEBHOOK_SECRET" in r.json()["message"]
    r = await staff.client.post(OG, json={}, headers={"X-SLAMon-Callback-Token": TOKEN})
    assert r.status_code == 404 and "SLAMON_OPSGENIE_CALLBACK_TOKEN" in r.json()["message"]
