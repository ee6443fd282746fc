"""GET /api/audit: admin only, filtered by actor, action, target and time, paginated."""

from datetime import datetime, timedelta, timezone


async def test_audit_log_filters_and_pages(staff):
    await staff.client.post("/api/auth/login", json={"username": "ghost", "password": "nope"})
    reporter = await staff.headers("reporter")
    r = await staff.client.post("/api/incidents", headers=reporter, json={"title": "t", "severity": "low"})
    incident_id = r.json()["incident"]["id"]
    await staff.client.post(
        f"/api/incidents/{incident_id}/updates",
        headers=reporter,
        json={"status": "resolved", "description": "done", "version": 1},
    )
    await staff.client.delete(f"/api/incidents/{incident_id}", headers=reporter)  # refused, and audited
    admin = await staff.headers("admin")
    get = lambda **params: staff.client.get("/api/audit", params=params, headers=admin)  # noqa: E731
    actions = [e["action"] for e in (await get()).json()["entries"]]
    for expected in (
        "auth.login_failed",
        "auth.login",
        "incident.create",
        "incident.update",
        "incident.status_change",
        "access.denied",
    ):
        assert expected in actions
    by_target = (await get(target_type="incident", target_id=incident_id)).json()["entries"]
    assert {e["action"] for e in by_target} == {"incident.create", "incident.update", "incident.status_change"}
    assert all(e["actorName"] == "reporter" for e in by_target)
    assert [e["action"] for e in (await get(action="auth.login_failed")).json()["entries"]] == ["auth.login_failed"]
    assert {e["action"] for e in (await get(action="incident")).json()["entries"]} >= {"incident.create"}
    assert (await get(actor="reporter")).json()["pagination"]["total"] >= 4
    page = (await get(limit=2, page=2)).json()
    assert len(page["entries"]) == 2 and page["pagination"]["page"] == 2
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert (await get(since=future)).json()["entries"] == []
    assert (await get(limit=1000)).status_code == 422
    assert (await staff.client.get("/api/audit", headers=reporter)).status_code == 403
