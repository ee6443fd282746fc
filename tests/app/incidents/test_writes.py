"""Incident writes (PRD §5.1): creation with suggested priority, validation limits, the status flow,
optimistic concurrency, delete, comments and drafts; each visible on the public reads at once."""

import pytest

BASE = {
    "title": "서비스 응답 지연",
    "description": "ID Recognition 응답 15초 이상",
    "severity": "high",
    "affected_services": ["id-recognition", "face-liveness"],
    "detection_criteria": "연속 3회 7초 초과",
}


async def create(staff, role="reporter", **fields) -> dict:
    r = await staff.client.post("/api/incidents", json={**BASE, **fields}, headers=await staff.headers(role))
    assert r.status_code == 201, r.text
    return r.json()["incident"]


@pytest.mark.parametrize("severity,priority", [("critical", "P1"), ("high", "P2"), ("medium", "P3"), ("low", "P3")])
async def test_priority_is_suggested_from_severity(staff, severity, priority):
    incident = await create(staff, severity=severity)
    assert incident["priority"] == priority


async def test_create_is_public_at_once_with_its_first_timeline_entry(staff):
    incident = await create(staff, severity="critical", priority="P3")  # an override wins
    assert incident["id"].startswith("inc-") and incident["status"] == "investigating"
    assert incident["priority"] == "P3" and incident["reporter"] == "reporter" and incident["version"] == 1
    public = (await staff.client.get("/api/incidents")).json()["incidents"]
    assert [i["id"] for i in public] == [incident["id"]]
    assert public[0]["updates"][0]["status"] == "investigating"
    one = await staff.client.get(f"/api/incidents/{incident['id']}")
    assert one.headers["etag"] == '"1"'
    assert await staff.conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'incident.create'") == 1


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"title": "x" * 256}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"description": "x" * 10_001}, "description"),
        ({"severity": "urgent"}, "severity"),
        ({"priority": "P0"}, "priority"),
        ({"affected_services": [f"svc-{i}" for i in range(51)]}, "affected_services"),
        ({"affected_services": ["Not A Service!"]}, "affected_services.0"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_invalid_creates_are_422_naming_the_field(staff, fields, field):
    r = await staff.client.post("/api/incidents", json={**BASE, **fields}, headers=await staff.headers("reporter"))
    assert r.status_code == 422 and r.json()["error"] == "validation_error"
    assert any(d["field"] == field for d in r.json()["details"]), r.json()
    assert await staff.conn.fetchval("SELECT count(*) FROM incidents") == 0


async def test_unknown_services_are_named(staff):
    r = await staff.client.post(
        "/api/incidents",
        json={**BASE, "affected_services": ["id-recognition", "nope-1", "nope-2"]},
        headers=await staff.headers("reporter"),
    )
    assert r.status_code == 422 and "nope-1" in r.json()["message"] and "nope-2" in r.json()["message"]
    assert "id-recognition" not in r.json()["message"]


async def post_update(staff, incident, status, note="progress", version=None):
    return await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=await staff.headers("reporter"),
        json={"status": status, "description": note, "version": version or incident["version"]},
    )


@pytest.mark.parametrize(
    "path,expected",
    [
        (["identified", "monitoring", "resolved"], 201),
        (["resolved"], 201),  # skipping ahead is allowed
        (["monitoring", "identified"], 409),  # going back is not
        (["identified", "investigating"], 409),
        (["resolved", "investigating"], 201),  # reopen
        (["resolved", "monitoring"], 409),  # reopen goes to investigating only
    ],
)
async def test_status_flow(staff, path, expected):
    incident = await create(staff)
    statuses = []
    for i, status in enumerate(path):
        r = await post_update(staff, incident, status)
        last = r.status_code
        if r.status_code != 201:
            assert r.json()["error"] == "invalid_transition"
            break
        incident = r.json()["incident"]
        statuses.append(status)
        assert r.json()["update"]["status"] == status and incident["status"] == status
    assert last == expected
    rows = await staff.conn.fetch(
        "SELECT status FROM incident_updates WHERE incident_id = $1 ORDER BY id", incident["id"]
    )
    assert [r["status"] for r in rows] == ["investigating", *statuses]


async def test_resolved_at_and_resolution_time_follow_the_status(staff):
    incident = await create(staff)
    await staff.conn.execute("UPDATE incidents SET created_at = now() - interval '2 hours 5 minutes'")
    incident = (await staff.client.get(f"/api/incidents/{incident['id']}")).json()["incident"]
    resolved = (await post_update(staff, incident, "resolved", "fixed")).json()["incident"]
    assert resolved["resolvedAt"] is not None and resolved["resolutionTime"].startswith("2")
    past = (await staff.client.get("/api/incidents/past?days=1")).json()["days"][0]["incidents"]
    assert past[0]["status"] == "resolved"
    reopened = (await post_update(staff, resolved, "investigating", "back again")).json()["incident"]
    assert reopened["resolvedAt"] is None and reopened["resolutionTime"] is None


async def test_put_changes_fields_and_a_status_change_needs_a_note(staff):
    incident = await create(staff)
    headers = await staff.headers("reporter")
    r = await staff.client.put(
        f"/api/incidents/{incident['id']}", headers=headers, json={"status": "identified", "version": 1}
    )
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "note"
    r = await staff.client.put(
        f"/api/incidents/{incident['id']}",
        headers=headers,
        json={"title": "DB pool exhausted", "status": "identified", "note": "pool 50→100", "version": 1},
    )
    assert r.status_code == 200
    updated = r.json()["incident"]
    assert updated["title"] == "DB pool exhausted" and updated["version"] == 2 and r.headers["etag"] == '"2"'
    assert updated["updates"][0]["description"] == "pool 50→100"
    r = await staff.client.put(
        f"/api/incidents/{incident['id']}",
        headers=headers,
        json={"severity": "critical", "affected_services": ["unknown-svc"], "version": 2},
    )
    assert r.status_code == 422 and "unknown-svc" in r.json()["message"]


async def test_stale_versions_conflict_with_the_current_state(staff):
    incident = await create(staff)
    url = f"/api/incidents/{incident['id']}"
    alice, bob = await staff.headers("reporter", "alice"), await staff.headers("reporter", "bob")
    r = await staff.client.put(url, headers=alice, json={"title": "alice's title"})
    assert r.status_code == 428 and r.json()["error"] == "precondition_required"
    r = await staff.client.put(url, headers={**alice, "If-Match": '"1"'}, json={"title": "alice's title"})
    assert r.status_code == 200 and r.json()["incident"]["version"] == 2
    r = await staff.client.put(url, headers=bob, json={"title": "bob's title", "version": 1})
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    assert r.json()["current"]["title"] == "alice's title" and r.json()["current"]["version"] == 2
    r = await staff.client.post(f"{url}/updates", headers={**bob, "If-Match": 'W/"1"'}, json={"description": "x"})
    assert r.status_code == 409
    assert (await staff.client.get(url)).json()["incident"]["title"] == "alice's title"


async def test_delete_is_admin_only_and_takes_comments_and_drafts(staff):
    incident = await create(staff)
    url = f"/api/incidents/{incident['id']}"
    reporter = await staff.headers("reporter")
    await staff.client.post(f"{url}/comments", headers=reporter, json={"message": "looking"})
    await staff.client.put(f"{url}/draft", headers=reporter, json={"data": {"title": "half"}})
    assert (await staff.client.delete(url, headers=reporter)).status_code == 403
    r = await staff.client.delete(url, headers=await staff.headers("admin"))
    assert r.status_code == 200
    assert r.json() == {"success": True, "message": "Incident가 성공적으로 삭제되었습니다."}
    assert (await staff.client.get(url)).status_code == 404
    assert await staff.conn.fetchval("SELECT count(*) FROM incident_comments") == 0
    assert await staff.conn.fetchval("SELECT count(*) FROM incident_drafts") == 0
    assert (await staff.client.delete(url, headers=await staff.headers("admin"))).status_code == 404


async def test_comments_are_stored_as_typed(staff):
    incident = await create(staff)
    url = f"/api/incidents/{incident['id']}/comments"
    hostile = "<script>alert('x')</script> {{ 7*7 }} ${7*7} '; DROP TABLE incidents; --"
    assert (
        await staff.client.post(url, headers=await staff.headers("viewer"), json={"message": "hi"})
    ).status_code == 403
    r = await staff.client.post(url, headers=await staff.headers("reporter"), json={"message": hostile})
    assert r.status_code == 201 and r.json()["comment"]["message"] == hostile
    r = await staff.client.get(url, headers=await staff.headers("viewer"))
    assert r.headers["content-type"] == "application/json"
    assert [c["message"] for c in r.json()["comments"]] == [hostile]
    assert (await staff.client.get(url)).status_code == 401  # comments are for signed-in staff
    r = await staff.client.post(
        "/api/incidents",
        headers=await staff.headers("reporter"),
        json={**BASE, "title": hostile, "affected_services": []},
    )
    assert (await staff.client.get(f"/api/incidents/{r.json()['incident']['id']}")).json()["incident"][
        "title"
    ] == hostile


async def test_drafts_are_per_user_and_restored(staff):
    incident = await create(staff)
    url = f"/api/incidents/{incident['id']}/draft"
    alice, bob = await staff.headers("reporter", "alice"), await staff.headers("reporter", "bob")
    r = await staff.client.put(url, headers=alice, json={"data": {"title": "draft title", "base_version": 1}})
    assert r.status_code == 200
    got = await staff.client.get(url, headers=alice)
    assert got.json()["draft"]["data"] == {"title": "draft title", "base_version": 1}
    assert (await staff.client.get(url, headers=bob)).status_code == 404
    r = await staff.client.put(
        "/api/incidents/drafts/new", headers=bob, json={"data": {"severity": "low", "title": ""}}
    )
    assert r.status_code == 200
    assert (await staff.client.get("/api/incidents/drafts/new", headers=bob)).json()["draft"]["data"][
        "severity"
    ] == "low"
    r = await staff.client.put(url, headers=alice, json={"data": {"title": "x" * 300}})
    assert r.status_code == 422
    assert (
        await staff.client.put("/api/incidents/inc-none/draft", headers=alice, json={"data": {}})
    ).status_code == 404
    assert (await staff.client.delete(url, headers=alice)).json() == {"success": True}
    assert (await staff.client.get(url, headers=alice)).status_code == 404
    assert (await staff.client.put(url, headers=await staff.headers("viewer"), json={"data": {}})).status_code == 403


async def test_oversized_bodies_are_413(staff):
    headers = await staff.headers("reporter")
    big = {**BASE, "description": "x" * (1024 * 1024 + 10)}
    r = await staff.client.post("/api/incidents", headers=headers, json=big)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(20):
            yield b"x" * 65536

    r = await staff.client.post(
        "/api/incidents", headers={**headers, "content-type": "application/json"}, content=chunks()
    )
    assert r.status_code == 413
    assert await staff.conn.fetchval("SELECT count(*) FROM incidents") == 0


async def test_nul_characters_are_refused_not_a_server_error(staff):
    r = await staff.client.post(
        "/api/incidents", json={**BASE, "title": "a\x00b"}, headers=await staff.headers("reporter")
    )
    assert r.status_code == 422 and "NUL" in r.json()["message"]
