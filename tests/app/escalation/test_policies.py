"""Escalation policies as data: escalation.toml (the SLA document's L1-L4 as the default), refused
whole naming policy and field, synced by `slamon migrate` rules; the admin API and its 4xx."""

from __future__ import annotations

import pytest

from app.escalation.service import PolicyFileError, load_policies, sync_policies
from tests.app.conftest import ROOT
from tests.app.escalation.conftest import make_policy

LEVELS = [{"delay_seconds": 0, "subscriptions": ["a"]}, {"delay_seconds": 60, "subscriptions": ["b"]}]


def test_the_default_policy_is_the_documents_four_levels():
    [default] = load_policies(ROOT / "escalation.toml")
    assert default.id == "default" and default.priorities == [] and default.services == []
    assert [(lv.delay_seconds, lv.subscriptions, lv.priorities) for lv in default.levels] == [
        (0, ["automation"], []),
        (300, ["on-call"], []),
        (900, ["engineering-manager"], []),
        (1800, ["executives"], ["P1"]),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[policies]]\nid = 'x'\nname = 'x'\nlevels = []\n", "policies[0] (x): levels: List should have at least 1"),
        (
            "[[policies]]\nid = 'x'\nname = 'x'\n[[policies.levels]]\ndelay_seconds = -1\nsubscriptions = ['a']\n",
            "policies[0] (x): levels.0.delay_seconds",
        ),
        (
            "[[policies]]\nid = 'x'\nname = 'x'\n[[policies.levels]]\ndelay_seconds = 60\nsubscriptions = ['a']\n"
            "[[policies.levels]]\ndelay_seconds = 0\nsubscriptions = ['b']\n",
            "levels: Value error, levels must be in order of delay_seconds",
        ),
        (
            "[[policies]]\nid = 'x'\nname = 'x'\nlevels = [{delay_seconds = 0, subscriptions = ['a']}]\n" * 2,
            "duplicate",
        ),
        ("policies = 'no'", "'policies' must be an array of tables"),
        ("[[policies]\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_policy_and_field(tmp_path, text, message):
    path = tmp_path / "escalation.toml"
    path.write_text(text)
    with pytest.raises(PolicyFileError) as raised:
        load_policies(path)
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)


async def test_sync_owns_the_files_policies_only(conn, staff):
    await make_policy(staff, id="from-api", levels=LEVELS)
    [default] = load_policies(ROOT / "escalation.toml")
    assert await sync_policies(conn, [default]) == (["default"], [])
    assert await sync_policies(conn, [default]) == ([], [])  # unchanged: nothing written
    assert await sync_policies(conn, []) == ([], ["default"])
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM escalation_policies ORDER BY id")]
    assert ids == ["from-api"]


async def test_admin_api_crud_and_audit(staff):
    admin = await staff.headers("admin")
    created = await make_policy(staff, id="p1-only", priorities=["P1"], services=["face-compare"], levels=LEVELS)
    assert created["levels"] == [
        {"delaySeconds": 0, "subscriptions": ["a"], "users": [], "schedules": [], "priorities": []},
        {"delaySeconds": 60, "subscriptions": ["b"], "users": [], "schedules": [], "priorities": []},
    ]
    assert created["managedBy"] == "api" and created["services"] == ["face-compare"]
    r = await staff.client.get("/api/escalation-policies", headers=admin)
    assert [p["id"] for p in r.json()["policies"]] == ["p1-only"]
    r = await staff.client.put(
        "/api/escalation-policies/p1-only", headers=admin, json={"name": "renamed", "levels": LEVELS[:1]}
    )
    assert r.status_code == 200 and r.json()["policy"]["name"] == "renamed" and len(r.json()["policy"]["levels"]) == 1
    assert (await staff.client.get("/api/escalation-policies/p1-only", headers=admin)).json()["policy"][
        "position"
    ] == 100
    assert (await staff.client.delete("/api/escalation-policies/p1-only", headers=admin)).json() == {"success": True}
    assert (await staff.client.get("/api/escalation-policies/p1-only", headers=admin)).status_code == 404
    actions = [
        r["action"]
        for r in await staff.conn.fetch(
            "SELECT action FROM audit_log WHERE target_type = 'escalation_policy' AND target_id = 'p1-only' ORDER BY id"
        )
    ]
    assert actions == ["escalation_policy.create", "escalation_policy.update", "escalation_policy.delete"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "x", "name": "x", "levels": [{"delay_seconds": -5, "subscriptions": ["a"]}]}, "levels.0.delay_seconds"),
        # a level pages someone: a subscription, a user or a schedule
        ({"id": "x", "name": "x", "levels": [{"delay_seconds": 0, "subscriptions": []}]}, "levels.0"),
        ({"id": "x", "name": "x", "levels": [{"delay_seconds": 0, "users": ["not a user"]}]}, "levels.0.users.0"),
        ({"id": "x", "name": "x", "levels": LEVELS[::-1]}, "levels"),
        ({"id": "x", "name": "x", "priorities": ["P9"], "levels": LEVELS}, "priorities.0"),
        ({"id": "x", "name": "x", "services": ["Not A Service"], "levels": LEVELS}, "services.0"),
        ({"id": "X Y", "name": "x", "levels": LEVELS}, "id"),
        ({"id": "x", "name": "x", "levels": LEVELS, "colour": "red"}, "colour"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(staff, body, field):
    r = await staff.client.post("/api/escalation-policies", json=body, headers=await staff.headers("admin"))
    assert r.status_code == 422, r.text
    assert field in {d["field"] for d in r.json()["details"]}, r.json()


async def test_admin_only_and_conflicts(staff):
    body = {"id": "dup", "name": "x", "levels": LEVELS}
    r = await staff.client.post("/api/escalation-policies", json=body, headers=await staff.headers("reporter"))
    assert r.status_code == 403
    assert (await staff.client.get("/api/escalation-policies")).status_code == 401
    await make_policy(staff, **body)
    r = await staff.client.post("/api/escalation-policies", json=body, headers=await staff.headers("admin"))
    assert r.status_code == 409 and r.json()["details"][0]["field"] == "id"
    r = await staff.client.put(
        "/api/escalation-policies/nope", json=body | {"id": None}, headers=await staff.headers("admin")
    )
    assert r.status_code == 422  # PUT takes no id
    r = await staff.client.put(
        "/api/escalation-policies/nope", json={"name": "x", "levels": LEVELS}, headers=await staff.headers("admin")
    )
    assert r.status_code == 404
