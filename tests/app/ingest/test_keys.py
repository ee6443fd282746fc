"""Ingest keys (issue 14 §3): stored hashed, rotated and revoked through the admin API and the CLI,
every change in the audit log; archiving a service revokes its keys; keys of before sql/112 (derived
from the secret) keep working until rotated."""

import asyncio
import json
import os
import sys
from datetime import datetime, timedelta, timezone

import pytest

from app.ingest.keys import derive_key
from tests.app.ingest.conftest import new_key
from tests.app.services.conftest import api_services  # noqa: F401  (the catalog restored afterwards)
from tests.conftest import ROOT

SERVICE = "face-compare"


def call() -> list[dict]:
    return [
        {"ts": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(), "status_code": 200, "latency_ms": 80}
    ]


async def ingest(client, key: str) -> int:
    response = await client.post("/api/ingest/api-calls", json=call(), headers={"Authorization": f"Bearer {key}"})
    return response.status_code


async def audit(conn, action: str, service_id: str = SERVICE) -> list:
    return await conn.fetch(
        "SELECT actor_name, details FROM audit_log WHERE action = $1 AND target_id = $2 ORDER BY id", action, service_id
    )


async def test_keys_are_stored_hashed(conn):
    key = await new_key(conn, SERVICE)
    secret_part = key.rsplit(".", 1)[1]
    stored = await conn.fetchval("SELECT string_agg(k::text, '|') FROM ingest_keys k WHERE service_id = $1", SERVICE)
    assert secret_part not in stored and secret_part[:12] not in stored
    assert await conn.fetchval("SELECT count(*) FROM ingest_keys WHERE key_hash = sha256($1::bytea)", key.encode()) == 1


async def test_rotate_through_the_admin_api_ends_the_old_key_and_is_audited(staff):
    old = await new_key(staff.conn, SERVICE)
    assert await ingest(staff.client, old) == 200
    admin = await staff.headers("admin")
    rotated = await staff.client.post(f"/api/services/{SERVICE}/ingest-keys", headers=admin)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["key"]
    assert new.startswith(f"slk.{SERVICE}.") and rotated.json()["ingestKey"]["active"]
    assert await ingest(staff.client, old) == 401
    assert await ingest(staff.client, new) == 200
    listed = await staff.client.get(f"/api/services/{SERVICE}/ingest-keys", headers=admin)
    assert new not in listed.text and old not in listed.text
    states = {k["prefix"]: k["active"] for k in listed.json()["keys"]}
    assert states[rotated.json()["ingestKey"]["prefix"]] is True and list(states.values()).count(True) == 1
    (entry,) = await audit(staff.conn, "ingest_key.rotate")
    assert entry["actor_name"] == "admin" and new not in entry["details"] and old not in entry["details"]
    assert len(json.loads(entry["details"])["revoked"]) >= 1


async def test_overlapping_keys_then_revoke_one_then_all(staff):
    admin = await staff.headers("admin")
    first = (await staff.client.post(f"/api/services/{SERVICE}/ingest-keys", headers=admin)).json()
    second = (
        await staff.client.post(f"/api/services/{SERVICE}/ingest-keys", json={"revoke_others": False}, headers=admin)
    ).json()
    assert await ingest(staff.client, first["key"]) == 200 and await ingest(staff.client, second["key"]) == 200
    one = await staff.client.delete(f"/api/services/{SERVICE}/ingest-keys/{first['ingestKey']['id']}", headers=admin)
    assert one.status_code == 200 and one.json()["revoked"] == [first["ingestKey"]["prefix"]]
    assert await ingest(staff.client, first["key"]) == 401 and await ingest(staff.client, second["key"]) == 200
    again = await staff.client.delete(f"/api/services/{SERVICE}/ingest-keys/{first['ingestKey']['id']}", headers=admin)
    assert again.status_code == 404
    everything = await staff.client.delete(f"/api/services/{SERVICE}/ingest-keys", headers=admin)
    assert everything.status_code == 200
    assert await ingest(staff.client, second["key"]) == 401
    assert [json.loads(e["details"])["revoked"] for e in await audit(staff.conn, "ingest_key.revoke")][-1] == [
        second["ingestKey"]["prefix"]
    ]


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/api/services/no-such/ingest-keys", None),
        ("POST", "/api/services/no-such/ingest-keys", None),
        ("POST", f"/api/services/{SERVICE}/ingest-keys", {"revoke_others": "nope"}),
        ("DELETE", f"/api/services/{SERVICE}/ingest-keys/0", None),
        ("DELETE", f"/api/services/{SERVICE}/ingest-keys/99999999999999999999", None),
    ],
)
async def test_bad_key_requests_are_4xx(staff, method, path, body):
    r = await staff.client.request(method, path, json=body, headers=await staff.headers("admin"))
    assert 400 <= r.status_code < 500, r.text


async def test_archiving_a_service_revokes_its_keys(api_services):
    staff = api_services
    admin = await staff.headers("admin")
    created = await staff.client.post("/api/services", json={"id": "key-archive", "name": "Key archive"}, headers=admin)
    assert created.status_code == 201, created.text
    key = await new_key(staff.conn, "key-archive")
    assert await ingest(staff.client, key) == 200
    assert (await staff.client.delete("/api/services/key-archive", headers=admin)).status_code == 200
    assert await ingest(staff.client, key) == 401
    (entry,) = await audit(staff.conn, "ingest_key.revoke", "key-archive")
    assert json.loads(entry["details"])["reason"] == "service archived" and entry["actor_name"] == "admin"
    reissue = await staff.client.post("/api/services/key-archive/ingest-keys", headers=admin)
    assert reissue.status_code == 409


async def test_a_key_of_before_the_migration_works_until_rotated(staff, settings):
    conn = staff.conn
    service_id = "id-liveness"
    await conn.execute("DELETE FROM ingest_keys WHERE service_id = $1", service_id)
    await conn.execute(
        "INSERT INTO ingest_keys_derived (service_id, key_version) VALUES ($1, 4) "
        "ON CONFLICT (service_id) DO UPDATE SET key_version = 4",
        service_id,
    )
    legacy = derive_key(settings.resolved_secret_key(), service_id, 4)
    assert await ingest(staff.client, derive_key(settings.resolved_secret_key(), service_id, 3)) == 401
    assert await ingest(staff.client, legacy) == 200
    assert await ingest(staff.client, legacy) == 200  # now authenticated by its hash
    assert await conn.fetchval("SELECT derived FROM ingest_keys WHERE service_id = $1", service_id) is True
    assert await conn.fetchval("SELECT count(*) FROM ingest_keys_derived WHERE service_id = $1", service_id) == 0
    admin = await staff.headers("admin")
    assert (await staff.client.post(f"/api/services/{service_id}/ingest-keys", headers=admin)).status_code == 201
    assert await ingest(staff.client, legacy) == 401


async def test_a_derived_key_never_used_is_revoked_too(staff, settings):
    conn = staff.conn
    await conn.execute(
        "INSERT INTO ingest_keys_derived (service_id, key_version) VALUES ('curp-verifier', 1) "
        "ON CONFLICT (service_id) DO NOTHING"
    )
    legacy = derive_key(settings.resolved_secret_key(), "curp-verifier", 1)
    assert (
        await staff.client.delete("/api/services/curp-verifier/ingest-keys", headers=await staff.headers("admin"))
    ).status_code == 200
    assert await ingest(staff.client, legacy) == 401


async def _slamon(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "SLAMON_DATABASE_URL": database_url, "SLAMON_LOG_FORMAT": "text"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "ingest-key",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_creates_rotates_lists_and_revokes(make_client, conn, database_url):
    client = await make_client()
    code, first, _ = await _slamon(database_url, "create", SERVICE)
    assert code == 0
    first = first.strip()
    code, second, _ = await _slamon(database_url, "rotate", SERVICE)
    second = second.strip()
    assert code == 0 and second != first
    assert await ingest(client, first) == 401 and await ingest(client, second) == 200
    code, listed, _ = await _slamon(database_url, "list", SERVICE)
    assert code == 0 and second not in listed and second.rsplit(".", 1)[1][:6] in listed
    code, _, said = await _slamon(database_url, "revoke", SERVICE)
    assert code == 0 and "revoked" in said
    assert await ingest(client, second) == 401
    actions = [
        (r["action"], r["actor_name"])
        for r in await conn.fetch(
            "SELECT action, actor_name FROM audit_log WHERE action LIKE 'ingest_key.%' AND target_id = $1 ORDER BY id",
            SERVICE,
        )
    ][-3:]
    assert [a for a, _ in actions] == ["ingest_key.create", "ingest_key.rotate", "ingest_key.revoke"]
    assert all(actor.startswith("cli:") for _, actor in actions)
    assert (await _slamon(database_url, "create", "no-such-service"))[0] == 2


async def test_removing_a_service_from_services_toml_revokes_its_keys(api_services):
    from app.ingest.keys import authenticate
    from app.services.service import load_catalog, sync_catalog

    conn = api_services.conn
    key = await new_key(conn, "curp-verifier")
    assert await authenticate(conn, "any-secret", key) == "curp-verifier"
    synced = await sync_catalog(conn, [s for s in load_catalog(ROOT / "services.toml") if s.id != "curp-verifier"])
    assert synced.deactivated == ["curp-verifier"]
    assert await authenticate(conn, "any-secret", key) is None
    entry = (await audit(conn, "ingest_key.revoke", "curp-verifier"))[-1]
    assert entry["actor_name"] == "slamon migrate" and "services.toml" in json.loads(entry["details"])["reason"]
    await sync_catalog(conn, load_catalog(ROOT / "services.toml"))  # back in the file: active, keys still revoked
    assert await authenticate(conn, "any-secret", key) is None
