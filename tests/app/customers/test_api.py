"""Customers CRUD for admins (/api/customers): 401 without a token, 403 for other roles, 4xx naming the
field for bad input, every write audited; customers.toml applied like services.toml; target overrides
judged by the notice rule."""

from datetime import datetime, timedelta, timezone

import pytest

from app.customers.service import CustomersFileError, load_customers, sync_customers

ACME = {
    "id": "acme",
    "name": "ACME Corp.",
    "contacts": ["billing@acme.example", "ops@acme.example"],
    "tier": "enterprise",
    "monthly_fee": "12500.00",
    "currency": "EUR",
    "starts_on": "2025-01-01",
    "services": ["id-recognition", "face-liveness"],
}


async def audit_actions(conn, target_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT action FROM audit_log WHERE target_type = 'customer' AND target_id = $1 ORDER BY id", target_id
    )
    return [r["action"] for r in rows]


async def test_an_admin_creates_reads_updates_and_deletes_a_customer(customers_staff):
    staff = customers_staff
    admin = await staff.headers("admin")
    r = await staff.client.post("/api/customers", json=ACME, headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()["customer"]
    assert created["monthly_fee"] == "12500.00" and created["currency"] == "EUR"
    assert created["services"] == ["id-recognition", "face-liveness"] and created["managed_by"] == "api"
    r = await staff.client.get("/api/customers/acme", headers=admin)
    assert r.status_code == 200 and r.json()["customer"] == created and r.json()["overrides"] == []
    assert [c["id"] for c in (await staff.client.get("/api/customers", headers=admin)).json()["customers"]] == ["acme"]

    changed = {**ACME, "tier": "developer", "monthly_fee": "99.5", "services": ["face-liveness"]}
    r = await staff.client.put("/api/customers/acme", json=changed, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["customer"]["tier"] == "developer" and r.json()["customer"]["services"] == ["face-liveness"]
    assert r.json()["customer"]["monthly_fee"] == "99.5"

    r = await staff.client.delete("/api/customers/acme", headers=admin)
    assert r.status_code == 204
    assert (await staff.client.get("/api/customers/acme", headers=admin)).status_code == 404
    assert await audit_actions(staff.conn, "acme") == ["customer.create", "customer.update", "customer.delete"]
    details = await staff.conn.fetchval("SELECT details::text FROM audit_log WHERE action = 'customer.create'")
    assert '"monthly_fee": "12500.00"' in details


async def test_without_a_token_401_and_other_roles_403(customers_staff):
    staff = customers_staff
    assert (await staff.client.get("/api/customers")).status_code == 401
    assert (await staff.client.post("/api/customers", json=ACME)).status_code == 401
    for role in ("viewer", "reporter"):
        headers = await staff.headers(role)
        assert (await staff.client.get("/api/customers", headers=headers)).status_code == 403
        assert (await staff.client.post("/api/customers", json=ACME, headers=headers)).status_code == 403
    assert await staff.conn.fetchval("SELECT count(*) FROM customers") == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "XAU"}, "currency"),  # gold: no minor unit
        ({"monthly_fee": "10.001"}, "monthly_fee"),  # EUR has 2 decimals
        ({"monthly_fee": "-1"}, "monthly_fee"),
        ({"monthly_fee": "NaN"}, "monthly_fee"),
        ({"monthly_fee": "abc"}, "monthly_fee"),
        ({"tier": "gold"}, "tier"),
        ({"contacts": ["not-an-address"]}, "contacts"),
        ({"services": []}, "services"),
        ({"services": ["no-such-service"]}, "services"),
        ({"starts_on": "2025-13-01"}, "starts_on"),
        ({"id": "Bad Id"}, "id"),
        ({"name": "  "}, "name"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(customers_staff, change, field):
    staff = customers_staff
    admin = await staff.headers("admin")
    r = await staff.client.post("/api/customers", json={**ACME, **change}, headers=admin)
    assert r.status_code == 422, r.text
    assert field in r.json()["message"], r.json()
    assert await staff.conn.fetchval("SELECT count(*) FROM customers") == 0


async def test_a_yen_fee_takes_no_decimals_and_a_dinar_fee_three(customers_staff):
    staff = customers_staff
    admin = await staff.headers("admin")
    r = await staff.client.post(
        "/api/customers", json={**ACME, "currency": "JPY", "monthly_fee": "1000.5"}, headers=admin
    )
    assert r.status_code == 422 and "JPY's minor unit (0)" in r.json()["details"][0]["message"]
    r = await staff.client.post(
        "/api/customers", json={**ACME, "currency": "BHD", "monthly_fee": "10.125"}, headers=admin
    )
    assert r.status_code == 201, r.text
    # whole amounts stay plain digits (PostgreSQL's numeric reads back as Decimal('1.5E+5'))
    r = await staff.client.post(
        "/api/customers", json={**ACME, "id": "yen", "currency": "JPY", "monthly_fee": 150000}, headers=admin
    )
    assert r.status_code == 201 and r.json()["customer"]["monthly_fee"] == "150000", r.text


async def test_a_taken_id_is_409_and_an_unknown_customer_404(customers_staff):
    staff = customers_staff
    admin = await staff.headers("admin")
    assert (await staff.client.post("/api/customers", json=ACME, headers=admin)).status_code == 201
    r = await staff.client.post("/api/customers", json=ACME, headers=admin)
    assert r.status_code == 409 and r.json()["details"][0]["field"] == "id"
    assert (
        await staff.client.put("/api/customers/nobody", json={**ACME, "id": "nobody"}, headers=admin)
    ).status_code == 404
    assert (await staff.client.delete("/api/customers/nobody", headers=admin)).status_code == 404
    r = await staff.client.put("/api/customers/acme", json={**ACME, "id": "other"}, headers=admin)
    assert r.status_code == 422 and "id" in r.json()["message"]


async def test_an_override_counts_only_with_its_72_hour_notice(customers_staff):
    staff = customers_staff
    admin = await staff.headers("admin")
    assert (await staff.client.post("/api/customers", json=ACME, headers=admin)).status_code == 201
    now = datetime.now(timezone.utc)
    early = {
        "availability": "99.5",
        "starts_at": (now + timedelta(hours=73)).isoformat(),
        "ends_at": (now + timedelta(days=10)).isoformat(),
        "reason": "year-end traffic",
    }
    late = {**early, "starts_at": (now + timedelta(hours=10)).isoformat()}
    r = await staff.client.post("/api/customers/acme/overrides", json=early, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["override"]["effective"] is True and "notice: 72 h" in r.json()["override"]["effectiveness_note"]
    r = await staff.client.post("/api/customers/acme/overrides", json=late, headers=admin)
    assert r.status_code == 201 and r.json()["override"]["effective"] is False
    assert "counted as ordinary time" in r.json()["override"]["effectiveness_note"]
    overrides = (await staff.client.get("/api/customers/acme", headers=admin)).json()["overrides"]
    assert [o["effective"] for o in overrides] == [False, True]  # by start
    bad = {**early, "ends_at": early["starts_at"]}
    r = await staff.client.post("/api/customers/acme/overrides", json=bad, headers=admin)
    assert r.status_code == 422
    r = await staff.client.delete(f"/api/customers/acme/overrides/{overrides[0]['id']}", headers=admin)
    assert r.status_code == 204
    assert (
        await staff.client.delete(f"/api/customers/acme/overrides/{overrides[0]['id']}", headers=admin)
    ).status_code == 404
    assert await audit_actions(staff.conn, "acme") == [
        "customer.create",
        "customer.override.create",
        "customer.override.create",
        "customer.override.delete",
    ]


async def test_customers_toml_is_applied_like_services_toml(customers_staff, tmp_path):
    staff = customers_staff
    admin = await staff.headers("admin")
    assert (
        await staff.client.post("/api/customers", json={**ACME, "id": "from-api"}, headers=admin)
    ).status_code == 201
    path = tmp_path / "customers.toml"
    path.write_text(
        """
[[customers]]
id = "acme"
name = "ACME Corp."
contacts = ["billing@acme.example"]
tier = "professional"
currency = "KRW"
monthly_fee = "1500000"
starts_on = 2025-01-01
services = ["id-recognition"]
"""
    )
    customers = load_customers(path)
    synced = await sync_customers(staff.conn, path, customers)
    assert synced.inserted == ["acme"] and synced.removed == []
    r = await staff.client.get("/api/customers/acme", headers=admin)
    assert r.json()["customer"]["managed_by"] == "config" and r.json()["customer"]["currency"] == "KRW"
    # the file owns it: the API may not change it
    r = await staff.client.put("/api/customers/acme", json={**ACME}, headers=admin)
    assert r.status_code == 409 and "customers.toml" in r.json()["message"]
    assert (await staff.client.delete("/api/customers/acme", headers=admin)).status_code == 409
    # removed from the file: removed from the table; the API's customer stays
    path.write_text("")
    synced = await sync_customers(staff.conn, path, load_customers(path))
    assert synced.removed == ["acme"]
    ids = [c["id"] for c in (await staff.client.get("/api/customers", headers=admin)).json()["customers"]]
    assert ids == ["from-api"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[customers]]\nid = 'x'\n", "customers[0] (x): name: Field required"),
        ("customers = 3", "'customers' must be an array of tables"),
        ("[[customers", "not valid TOML"),
    ],
)
def test_a_bad_customers_file_is_refused_naming_entry_and_field(tmp_path, text, message):
    path = tmp_path / "customers.toml"
    path.write_text(text)
    with pytest.raises(CustomersFileError) as caught:
        load_customers(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


async def test_a_customers_file_naming_an_unknown_service_is_refused_whole(customers_db, tmp_path):
    path = tmp_path / "customers.toml"
    path.write_text(
        "[[customers]]\nid='a'\nname='A'\ntier='developer'\ncurrency='USD'\nmonthly_fee='10'\n"
        "starts_on=2025-01-01\nservices=['id-recognition']\n\n"
        "[[customers]]\nid='b'\nname='B'\ntier='developer'\ncurrency='USD'\nmonthly_fee='10'\n"
        "starts_on=2025-01-01\nservices=['nope']\n"
    )
    with pytest.raises(CustomersFileError, match=r"customers\[1\] \(b\): services: unknown service\(s\): nope"):
        await sync_customers(customers_db, path, load_customers(path))
    assert await customers_db.fetchval("SELECT count(*) FROM customers") == 0


def test_the_shipped_customers_file_loads():
    from tests.conftest import ROOT

    assert load_customers(ROOT / "customers.toml") == []


async def test_slamon_migrate_syncs_customers_toml(customers_db, database_url, tmp_path, monkeypatch):
    import asyncio

    from tests.app.reports.test_snapshots import slamon

    path = tmp_path / "customers.toml"
    path.write_text(
        "[[customers]]\nid='acme'\nname='ACME'\ntier='developer'\ncurrency='USD'\nmonthly_fee='10.50'\n"
        "starts_on=2025-01-01\nservices=['id-recognition', 'face-compare']\n"
    )
    monkeypatch.setenv("SLAMON_CUSTOMERS_FILE", str(path))
    done = await asyncio.to_thread(slamon, database_url, "migrate", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "customers: 1 in customers.toml, 1 added, 0 updated, 0 removed" in done.stdout
    row = await customers_db.fetchrow("SELECT managed_by, monthly_fee FROM customers WHERE id = 'acme'")
    assert row["managed_by"] == "config" and str(row["monthly_fee"]) == "10.50"
    path.write_text(path.read_text().replace("'face-compare'", "'gone'"))
    refused = await asyncio.to_thread(slamon, database_url, "migrate", tmp_path=tmp_path)
    assert (
        refused.returncode == 2 and f"{path}: customers[0] (acme): services: unknown service(s): gone" in refused.stderr
    )
