"""Services CRUD for admins: POST /api/services creates a service the API owns, GET shows its whole
configuration, DELETE archives it (history and SLA figures kept). services.toml keeps owning its own
services: the sync never touches the API's, and takes over an id both name."""

from datetime import datetime, timedelta, timezone

import pytest

from app.ingest.service import CheckRow, write_checks
from app.services.models import ServiceConfig
from app.services.service import load_catalog, sync_catalog
from tests.app.conftest import ROOT

NEW = {
    "id": "kyc-gateway",
    "name": "KYC Gateway",
    "description": "Front door of the KYC flow.",
    "url": "https://kyc.example.com/health",
    "interval_s": 30,
    "timeout_s": 5,
    "latency_target_ms": 1500,
    "tier": "enterprise",
    "check": {"expected_status": [200], "headers": {"Authorization": "Bearer s3cret"}},
}


async def audit_actions(conn, target_id: str) -> list[str]:
    return [
        r["action"]
        for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE target_type = 'service' AND target_id = $1 ORDER BY id", target_id
        )
    ]


async def test_an_admin_creates_a_service_that_is_listed_and_probed(api_services):
    staff = api_services
    admin = await staff.headers("admin")
    r = await staff.client.post("/api/services", json=NEW, headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()["service"]
    assert created["id"] == "kyc-gateway" and created["managed_by"] == "api" and created["is_active"]
    assert created["interval_s"] == 30 and created["timeout_s"] == 5.0 and created["tier"] == "enterprise"
    assert created["check"]["expected_status"] == [200]
    listed = [s["id"] for s in (await staff.client.get("/api/services")).json()["services"]]
    assert listed[-1] == "kyc-gateway"  # after the file's services, which keep their order
    r = await staff.client.get("/api/services/kyc-gateway", headers=admin)
    assert r.status_code == 200 and r.json()["service"] == created
    # the probers read the same catalog
    from prober.runner import database_targets

    targets = {t.service_id: t for t in await database_targets(staff.app.state.settings.database_url)()}
    assert targets["kyc-gateway"].url == NEW["url"] and targets["kyc-gateway"].interval_s == 30
    # audited, without the check's headers (they may carry the target's credentials)
    assert await audit_actions(staff.conn, "kyc-gateway") == ["service.create"]
    details = await staff.conn.fetchval("SELECT details::text FROM audit_log WHERE action = 'service.create'")
    assert "s3cret" not in details and '"tier": "enterprise"' in details


async def test_a_taken_id_is_a_409_naming_the_field(api_services):
    staff = api_services
    admin = await staff.headers("admin")
    r = await staff.client.post("/api/services", json={**NEW, "id": "id-recognition"}, headers=admin)
    assert r.status_code == 409 and r.json()["details"][0]["field"] == "id"
    assert "services.toml" in r.json()["message"]
    assert (await staff.client.post("/api/services", json=NEW, headers=admin)).status_code == 201
    r = await staff.client.post("/api/services", json={**NEW, "name": "Again"}, headers=admin)
    assert r.status_code == 409 and "the API" in r.json()["message"]
    await staff.client.delete("/api/services/kyc-gateway", headers=admin)
    r = await staff.client.post("/api/services", json=NEW, headers=admin)
    assert r.status_code == 409 and "archived" in r.json()["message"]


@pytest.mark.parametrize(
    "change, field, says",
    [
        ({"id": "Bad_Id"}, "id", "pattern"),
        ({"name": ""}, "name", "at least 1"),
        ({"interval_s": 5}, "interval_s", "10"),
        ({"timeout_s": 0}, "timeout_s", "0.01"),
        ({"timeout_s": 2.2250738585e-313}, "timeout_s", "0.01"),  # stored to the hundredth: was 0, a 500 (schemathesis)
        ({"tier": "gold"}, "tier", "enterprise"),
        ({"kind": "icmp"}, "kind", "http"),
        ({"url": "ftp://kyc.example.com/"}, "url", "http://"),
        ({"kind": "tcp", "url": "https://kyc.example.com/"}, "url", "tcp://host:port"),
        ({"check": {"json_path": "a..b"}}, "check.json_path", "invalid segment"),
        ({"check": {"json_value": 1}}, "check", "json_value: needs json_path"),
        ({"check": {"expected_status": [700]}}, "check", "expected_status"),
        ({"owner": "ops"}, "owner", "not permitted"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url", "metadata"),
        ({"url": "http://127.0.0.1:8080/health"}, "url", "allow_private"),
    ],
)
async def test_an_invalid_service_is_a_422_naming_the_field(api_services, change, field, says):
    staff = api_services
    r = await staff.client.post("/api/services", json={**NEW, **change}, headers=await staff.headers("admin"))
    assert r.status_code == 422, r.text
    assert [(d["field"], says in d["message"]) for d in r.json()["details"]] == [(field, True)], r.text
    assert await staff.conn.fetchval("SELECT count(*) FROM services WHERE id = 'kyc-gateway'") == 0


async def test_loopback_targets_need_allow_private_and_metadata_is_never_allowed(api_services):
    staff = api_services
    admin = await staff.headers("admin")
    local = {**NEW, "url": "http://127.0.0.1:8080/health", "allow_private": True}
    assert (await staff.client.post("/api/services", json=local, headers=admin)).status_code == 201
    metadata = {**NEW, "id": "meta", "url": "http://169.254.169.254/", "allow_private": True}
    r = await staff.client.post("/api/services", json=metadata, headers=admin)
    assert r.status_code == 422 and "metadata" in r.json()["message"]


async def test_a_push_only_service_needs_no_url(api_services):
    staff = api_services
    r = await staff.client.post(
        "/api/services", json={"id": "batch-jobs", "name": "Batch jobs"}, headers=await staff.headers("admin")
    )
    assert r.status_code == 201 and r.json()["service"]["url"] is None


async def test_archiving_keeps_the_history_and_the_figures(api_services):
    staff = api_services
    admin = await staff.headers("admin")
    await staff.client.post("/api/services", json=NEW, headers=admin)
    start = datetime(2025, 8, 12, 9, 0, tzinfo=timezone.utc)
    await write_checks(
        staff.conn,
        [
            CheckRow(
                start + timedelta(minutes=i), "kyc-gateway", "seoul", i != 3, 200, 120, None if i != 3 else "http_error"
            )
            for i in range(6)
        ],
    )
    figures = "/api/sla/availability/kyc-gateway?period=monthly&year=2025&month=8"
    before = (await staff.client.get(figures)).json()
    r = await staff.client.delete("/api/services/kyc-gateway", headers=admin)
    assert r.status_code == 200 and r.json()["service"]["is_active"] is False
    assert "kyc-gateway" not in [s["id"] for s in (await staff.client.get("/api/services")).json()["services"]]
    assert (await staff.client.get(figures)).json() == before and before["metrics"]["failedChecks"] == 1
    assert await staff.conn.fetchval("SELECT count(*) FROM checks WHERE service_id = 'kyc-gateway'") == 6
    r = await staff.client.get("/api/services/kyc-gateway", headers=admin)
    assert r.status_code == 200 and r.json()["service"]["is_active"] is False
    # archiving again changes nothing and writes no second audit entry
    assert (await staff.client.delete("/api/services/kyc-gateway", headers=admin)).status_code == 200
    assert await audit_actions(staff.conn, "kyc-gateway") == ["service.create", "service.archive"]


async def test_unknown_and_file_owned_services_cannot_be_archived(api_services):
    staff = api_services
    admin = await staff.headers("admin")
    assert (await staff.client.delete("/api/services/ghost", headers=admin)).status_code == 404
    assert (await staff.client.get("/api/services/ghost", headers=admin)).status_code == 404
    r = await staff.client.delete("/api/services/id-recognition", headers=admin)
    assert r.status_code == 409 and "services.toml" in r.json()["message"]
    assert await staff.conn.fetchval("SELECT is_active FROM services WHERE id = 'id-recognition'")


async def test_only_admins_manage_services(api_services):
    staff = api_services
    reporter = await staff.headers("reporter")
    assert (await staff.client.post("/api/services", json=NEW, headers=reporter)).status_code == 403
    assert (await staff.client.get("/api/services/id-recognition", headers=reporter)).status_code == 403
    assert (await staff.client.delete("/api/services/id-recognition", headers=reporter)).status_code == 403
    assert (await staff.client.post("/api/services", json=NEW)).status_code == 401


async def test_the_sync_leaves_api_services_alone_and_takes_over_an_id_the_file_names(api_services):
    staff = api_services
    admin = await staff.headers("admin")
    await staff.client.post("/api/services", json=NEW, headers=admin)
    await staff.client.post("/api/services", json={**NEW, "id": "kept-by-api", "name": "Kept"}, headers=admin)
    catalog = load_catalog(ROOT / "services.toml")
    result = await sync_catalog(staff.conn, catalog)  # what `slamon migrate` does
    assert result.deactivated == [] and "kyc-gateway" not in result.updated
    assert await staff.conn.fetchval("SELECT is_active FROM services WHERE id = 'kyc-gateway'")
    # the file now names kyc-gateway: the file wins, and owns it from now on
    result = await sync_catalog(staff.conn, [*catalog, ServiceConfig(id="kyc-gateway", name="KYC (file)")])
    assert result.updated == ["kyc-gateway"]
    row = await staff.conn.fetchrow("SELECT name, managed_by, endpoint_url FROM services WHERE id = 'kyc-gateway'")
    assert dict(row) == {"name": "KYC (file)", "managed_by": "config", "endpoint_url": None}
    # ... so removing it from the file archives it, while the API's other service stays
    result = await sync_catalog(staff.conn, catalog)
    assert result.deactivated == ["kyc-gateway"]
    assert await staff.conn.fetchval("SELECT is_active FROM services WHERE id = 'kept-by-api'")
    assert (await staff.client.delete("/api/services/kyc-gateway", headers=admin)).status_code == 409


async def test_a_timeout_below_the_stored_hundredth_is_a_422_on_edits_too(api_services):
    staff = api_services
    r = await staff.client.put(
        "/api/services/id-recognition", json={"timeout_s": 0.001}, headers=await staff.headers("admin")
    )
    assert r.status_code == 422 and "timeout_s" in r.json()["message"]


async def test_an_edit_of_an_api_service_is_kept_by_migrate_and_the_answer_says_so(api_services):
    staff = api_services
    admin = await staff.headers("admin")
    await staff.client.post("/api/services", json=NEW, headers=admin)
    r = await staff.client.put("/api/services/kyc-gateway", json={"description": "edited"}, headers=admin)
    assert r.status_code == 200 and r.json()["service"]["managed_by"] == "api"
    assert "keeps this edit" in r.json()["note"]
    await sync_catalog(staff.conn, load_catalog(ROOT / "services.toml"))  # what `slamon migrate` does
    assert await staff.conn.fetchval("SELECT description FROM services WHERE id = 'kyc-gateway'") == "edited"
