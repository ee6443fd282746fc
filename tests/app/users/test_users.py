"""/api/users (admin only) and `slamon user create`."""

import subprocess
import sys

from tests.app.conftest import PASSWORD, ROOT


async def test_admin_manages_users_and_role_changes_are_audited(staff):
    admin = await staff.headers("admin")
    r = await staff.client.post(
        "/api/users",
        headers=admin,
        json={"username": "dana", "role": "viewer", "email": "dana@example.com", "password": "long enough 1"},
    )
    assert r.status_code == 201 and r.json()["user"]["role"] == "viewer"
    assert "password" not in r.text and "hash" not in r.text
    user_id = r.json()["user"]["id"]
    assert (
        await staff.client.post(
            "/api/users", headers=admin, json={"username": "DANA", "role": "viewer", "password": "long enough 1"}
        )
    ).status_code == 409
    r = await staff.client.put(f"/api/users/{user_id}", headers=admin, json={"role": "reporter"})
    assert r.json()["user"]["role"] == "reporter"
    entry = await staff.conn.fetchrow("SELECT * FROM audit_log WHERE action = 'user.role_change'")
    assert entry["actor_name"] == "admin" and entry["target_id"] == user_id
    listed = (await staff.client.get("/api/users?limit=1", headers=admin)).json()
    assert len(listed["users"]) == 1 and listed["pagination"]["total"] == 2
    assert (await staff.client.get("/api/users", headers=await staff.headers("reporter"))).status_code == 403
    assert (await staff.client.get("/api/users")).status_code == 401
    assert (await staff.client.delete(f"/api/users/{user_id}", headers=admin)).status_code == 200
    assert (await staff.client.get(f"/api/users/{user_id}", headers=admin)).status_code == 404
    assert (await staff.client.get("/api/users/not-a-uuid", headers=admin)).status_code == 404


async def test_the_last_admin_cannot_remove_themselves(staff):
    admin_id = await staff.user("admin")
    headers = await staff.headers("admin")
    r = await staff.client.put(f"/api/users/{admin_id}", headers=headers, json={"role": "viewer"})
    assert r.status_code == 409
    assert (await staff.client.delete(f"/api/users/{admin_id}", headers=headers)).status_code == 409


def test_user_create_command_reads_the_password_from_stdin(staff_db, database_url):
    env = {"SLAMON_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    code = (
        "import sys; from app.users.cli import run_sync; "
        "sys.exit(run_sync(['user', 'create', 'erin', '--role', 'admin', '--email', 'erin@example.com']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "created admin erin" in done.stdout
    short = subprocess.run(
        [sys.executable, "-c", code.replace("erin", "frank")],
        input="short\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert short.returncode == 2 and "password" in short.stderr
