"""/api/subscriptions: admin CRUD, validation naming the field, the SSRF guard at creation, the
signing secret shown once and never audited, the paginated delivery log."""

import json

import pytest

from tests.app.notifications.conftest import subscribe


async def test_crud_and_secret_shown_once(staff):
    admin = await staff.headers("admin")
    created = await subscribe(
        staff, url="http://127.0.0.1:9/hook", events=["incident.created", "incident.created"], services=["face-compare"]
    )
    assert created["kind"] == "webhook" and created["signed"] is True and len(created["secret"]) >= 32
    assert created["events"] == ["incident.created"] and created["services"] == ["face-compare"]
    subscription_id = created["id"]

    read = (await staff.client.get(f"/api/subscriptions/{subscription_id}", headers=admin)).json()["subscription"]
    assert "secret" not in read and read["signed"] is True
    listed = (await staff.client.get("/api/subscriptions", headers=admin)).json()
    assert [s["id"] for s in listed["subscriptions"]] == [subscription_id] and listed["pagination"]["total"] == 1

    r = await staff.client.put(f"/api/subscriptions/{subscription_id}", headers=admin, json={"active": False})
    assert r.status_code == 200 and r.json()["subscription"]["active"] is False
    assert "secret" not in r.json()["subscription"]  # unchanged: not shown again
    rotated = await staff.client.put(
        f"/api/subscriptions/{subscription_id}", headers=admin, json={"secret": "a brand new secret value"}
    )
    assert rotated.json()["subscription"]["secret"] == "a brand new secret value"

    audit = await staff.conn.fetch(
        "SELECT action, details FROM audit_log WHERE target_type = 'subscription' ORDER BY id"
    )
    assert [a["action"] for a in audit] == ["subscription.create", "subscription.update", "subscription.update"]
    for entry in audit:
        assert created["secret"] not in entry["details"] and "a brand new secret value" not in entry["details"]
    assert json.loads(audit[2]["details"])["secret"] == "set"

    assert (await staff.client.delete(f"/api/subscriptions/{subscription_id}", headers=admin)).json() == {
        "success": True
    }
    r = await staff.client.get(f"/api/subscriptions/{subscription_id}", headers=admin)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_switching_kind_keeps_the_target_consistent(staff):
    admin = await staff.headers("admin")
    created = await subscribe(staff, url="http://127.0.0.1:9/hook")
    r = await staff.client.put(
        f"/api/subscriptions/{created['id']}", headers=admin, json={"kind": "email", "email": "ops@example.com"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["subscription"]["url"], r.json()["subscription"]["email"]) == (None, "ops@example.com")
    r = await staff.client.put(f"/api/subscriptions/{created['id']}", headers=admin, json={"kind": "slack"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "url"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "webhook"}, "body"),  # no url
        ({"kind": "email", "url": "http://127.0.0.1:9/"}, "body"),  # email takes no url
        ({"kind": "webhook", "url": "ftp://example.com/"}, "body.url"),
        ({"kind": "pager", "url": "http://127.0.0.1:9/"}, "body.kind"),
        ({"kind": "email", "email": "ops@example.com\r\nBcc: x@y.z"}, "body.email"),
        ({"kind": "email", "email": "Ops <ops@example.com>"}, "body.email"),
        ({"kind": "webhook", "url": "http://127.0.0.1:9/", "events": ["incident.exploded"]}, "body.events.0"),
        ({"kind": "webhook", "url": "http://127.0.0.1:9/", "secret": "short"}, "body.secret"),
    ],
)
async def test_bad_bodies_name_the_field(staff, body, field):
    r = await staff.client.post(
        "/api/subscriptions", json={"name": "n", "allow_private": True, **body}, headers=await staff.headers("admin")
    )
    assert r.status_code == 422, r.text
    assert any(f"{d['in']}.{d['field']}".startswith(field) or d["in"] == field for d in r.json()["details"]), r.json()


async def test_unknown_service_is_named(staff):
    r = await staff.client.post(
        "/api/subscriptions",
        headers=await staff.headers("admin"),
        json={
            "name": "n",
            "kind": "webhook",
            "url": "http://127.0.0.1:9/",
            "allow_private": True,
            "services": ["no-such-service"],
        },
    )
    assert r.status_code == 422 and r.json()["details"] == [
        {"in": "body", "field": "services", "message": "unknown services: no-such-service"}
    ]


@pytest.mark.parametrize(
    "url, allow_private, reason",
    [
        ("http://169.254.169.254/latest/meta-data/", True, "cloud metadata"),
        ("http://2852039166/", True, "cloud metadata"),  # 169.254.169.254 as one number
        ("http://[::ffff:169.254.169.254]/", True, "cloud metadata"),
        ("http://127.0.0.1:8080/hook", False, "loopback"),
        ("http://10.1.2.3/hook", False, "private"),
        ("http://192.168.0.10/hook", False, "private"),
        ("http://localhost:8080/hook", False, "loopback"),  # a name resolving to loopback
        ("http://no-such-host.invalid/hook", False, "does not resolve"),
    ],
)
async def test_ssrf_guard_refuses_receivers_at_creation(staff, url, allow_private, reason):
    r = await staff.client.post(
        "/api/subscriptions",
        headers=await staff.headers("admin"),
        json={"name": "n", "kind": "webhook", "url": url, "allow_private": allow_private},
    )
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["field"] == "url" and reason in r.json()["message"]
    assert await staff.conn.fetchval("SELECT count(*) FROM subscriptions") == 0


async def test_loopback_needs_the_explicit_opt_in(staff):
    created = await subscribe(staff, url="http://localhost:8080/hook", allow_private=True)
    assert created["allowPrivate"] is True
    r = await staff.client.put(
        f"/api/subscriptions/{created['id']}", headers=await staff.headers("admin"), json={"allow_private": False}
    )
    assert r.status_code == 422 and "loopback" in r.json()["message"]


async def test_only_admins(staff):
    for role in ("viewer", "reporter"):
        r = await staff.client.get("/api/subscriptions", headers=await staff.headers(role))
        assert r.status_code == 403
    assert (await staff.client.get("/api/subscriptions")).status_code == 401


async def test_delivery_log_is_paginated_and_filtered(staff):
    subscription = await subscribe(staff, url="http://127.0.0.1:9/hook")
    admin = await staff.headers("admin")
    for n in range(5):
        r = await staff.client.post(f"/api/subscriptions/{subscription['id']}/test", headers=admin)
        assert r.status_code == 202
    await staff.conn.execute("""UPDATE notification_deliveries SET status = 'failed', last_error = 'HTTP 500'
                                WHERE id = (SELECT id FROM notification_deliveries ORDER BY created_at LIMIT 1)""")
    base = f"/api/subscriptions/{subscription['id']}/deliveries"
    page1 = (await staff.client.get(f"{base}?limit=2", headers=admin)).json()
    page3 = (await staff.client.get(f"{base}?limit=2&page=3", headers=admin)).json()
    assert len(page1["deliveries"]) == 2 and len(page3["deliveries"]) == 1
    assert page1["pagination"] == {"page": 1, "limit": 2, "total": 5, "totalPages": 3, "hasNext": True}
    assert page1["deliveries"][0]["createdAt"] >= page1["deliveries"][1]["createdAt"]
    assert page1["deliveries"][0]["status"] == "pending" and page1["deliveries"][0]["event"] == "test"
    failed = (await staff.client.get(f"{base}?status=failed", headers=admin)).json()
    assert [d["lastError"] for d in failed["deliveries"]] == ["HTTP 500"]
    assert (await staff.client.get(f"{base}?status=lost", headers=admin)).status_code == 422
    assert (await staff.client.get("/api/subscriptions/999999/deliveries", headers=admin)).status_code == 404
