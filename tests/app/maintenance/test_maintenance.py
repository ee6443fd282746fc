"""Maintenance windows (public reads, admin writes) and runtime service edits (admin; toml wins)."""

import pytest

from app.services.service import load_catalog, sync_catalog
from tests.app.conftest import ROOT

WINDOW = {
    "title": "DB upgrade",
    "description": "<i>planned</i>",
    "affected_services": ["id-recognition"],
    "starts_at": "2025-09-01T00:00:00Z",
    "ends_at": "2025-09-01T02:00:00Z",
}


async def test_windows_crud(staff):
    admin = await staff.headers("admin")
    r = await staff.client.post("/api/maintenance", json=WINDOW, headers=admin)
    assert r.status_code == 201
    window_id = r.json()["window"]["id"]
    assert (await staff.client.get("/api/maintenance")).json()["windows"][0]["description"] == "<i>planned</i>"
    bad = [
        {**WINDOW, "ends_at": WINDOW["starts_at"]},
        {**WINDOW, "affected_services": []},
        {**WINDOW, "affected_services": ["ghost-svc"]},
        {**WINDOW, "starts_at": "2025-09-01T00:00:00"},
    ]
    for body in bad:
        assert (await staff.client.post("/api/maintenance", json=body, headers=admin)).status_code == 422, body
    r = await staff.client.put(f"/api/maintenance/{window_id}", json={**WINDOW, "title": "moved"}, headers=admin)
    assert r.json()["window"]["title"] == "moved"
    assert (
        await staff.client.post("/api/maintenance", json=WINDOW, headers=await staff.headers("reporter"))
    ).status_code == 403
    assert (await staff.client.delete(f"/api/maintenance/{window_id}", headers=admin)).json() == {"success": True}
    assert (await staff.client.get(f"/api/maintenance/{window_id}")).status_code == 404


async def test_service_edits_apply_until_the_next_migrate(staff):
    admin = await staff.headers("admin")
    r = await staff.client.put(
        "/api/services/id-recognition", headers=admin, json={"description": "edited live", "latency_target_ms": 5000}
    )
    assert r.status_code == 200 and r.json()["service"]["latency_target_ms"] == 5000
    assert "slamon migrate" in r.json()["note"] and "restores" in r.json()["note"]
    assert r.json()["service"]["managed_by"] == "config"
    assert await staff.conn.fetchval("SELECT description FROM services WHERE id = 'id-recognition'") == "edited live"
    assert (await staff.client.put("/api/services/ghost", headers=admin, json={"name": "x"})).status_code == 404
    await sync_catalog(staff.conn, load_catalog(ROOT / "services.toml"))  # what `slamon migrate` does
    assert await staff.conn.fetchval("SELECT description FROM services WHERE id = 'id-recognition'") != "edited live"


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/maintenance?active_after=0001-01-01T00:00:00%2B14:00", "active_after"),
        ("/api/audit?since=0001-01-01T00:00:00%2B14:00", "since"),
        ("/api/audit?until=9999-12-31T23:59:59-14:00", "until"),
    ],
)
async def test_instants_outside_the_utc_range_are_a_422_naming_the_parameter(staff, url, field):
    response = await staff.client.get(url, headers=await staff.headers("admin"))
    assert response.status_code == 422
    assert field in response.text
