"""The console's pages as served: role-aware controls (PRD §6.2), the list filters, the detail page with
its timeline and comments, admin pages, and clear answers to bad input."""

import re

import pytest

from tests.pages.console.conftest import api_token, sign_in

INCIDENT = {
    "title": "얼굴 인증 지연",
    "description": "응답 15초 이상",
    "severity": "high",
    "affected_services": ["face-liveness"],
}


async def create(client, headers, **fields) -> dict:
    r = await client.post("/api/incidents", json={**INCIDENT, **fields}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["incident"]


async def move(client, headers, incident, status) -> dict:
    r = await client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=headers,
        json={"status": status, "description": f"now {status}", "version": incident["version"]},
    )
    assert r.status_code == 201, r.text
    return r.json()["incident"]


def ids_listed(html: str) -> list[str]:
    return re.findall(r'data-incident-id="([^"]+)"', html)


WRITE_CONTROLS = {
    "create_link": 'href="/create"',
    "status_form": 'id="status-form"',
    "edit_form": 'id="incident-form"',
    "comment_form": 'id="comment-form"',
    "delete": 'id="delete-button"',
    "admin_nav": 'href="/admin/users"',
}
ROLE_SEES = {
    "viewer": set(),
    "reporter": {"create_link", "status_form", "edit_form", "comment_form"},
    "admin": {"create_link", "status_form", "edit_form", "comment_form", "delete", "admin_nav"},
}


@pytest.mark.parametrize("role", ["viewer", "reporter", "admin"])
async def test_each_role_sees_only_the_controls_it_may_use(console_client, console_db, role):
    client = console_client()
    incident = await create(client, await api_token(client, console_db, "reporter", "rita"))
    await sign_in(client, console_db, role)
    html = (await client.get(f"/{incident['id']}")).text
    shown = {name for name, marker in WRITE_CONTROLS.items() if marker in html}
    assert shown == ROLE_SEES[role]
    assert (await client.get("/create")).status_code == (403 if role == "viewer" else 200)
    for path in ("/admin/users", "/admin/services", "/admin/maintenance", "/admin/customers", "/admin/slos"):
        assert (await client.get(path)).status_code == (200 if role == "admin" else 403)


async def test_open_list_history_and_filters(console_client, console_db):
    client = console_client()
    headers = await api_token(client, console_db, "reporter", "rita")
    p1 = await create(client, headers, title="P1 outage", severity="critical", affected_services=["id-recognition"])
    p2 = await create(client, headers, title="P2 slow", severity="high")
    done = await move(client, headers, await create(client, headers, title="old", severity="low"), "resolved")
    await sign_in(client, console_db, "viewer")

    assert ids_listed((await client.get("/")).text) == [p2["id"], p1["id"]]
    assert ids_listed((await client.get("/history")).text) == [done["id"], p2["id"], p1["id"]]
    assert ids_listed((await client.get("/history?status=resolved")).text) == [done["id"]]
    assert ids_listed((await client.get("/?priority=P1")).text) == [p1["id"]]
    assert ids_listed((await client.get("/history?service=face-liveness")).text) == [done["id"], p2["id"]]
    assert ids_listed((await client.get("/history?priority=P2&priority=P3&status=investigating")).text) == [p2["id"]]
    empty = await client.get("/?service=face-compare")
    assert ids_listed(empty.text) == [] and "진행 중인 인시던트가 없습니다." in empty.text


async def test_history_pages(console_client, console_db):
    client = console_client()
    headers = await api_token(client, console_db, "reporter", "rita")
    created = [await create(client, headers, title=f"incident {n}", severity="low") for n in range(27)]
    await sign_in(client, console_db, "viewer")
    first = await client.get("/history?priority=P3")
    assert len(ids_listed(first.text)) == 25 and 'rel="next"' in first.text
    assert 'href="/history?priority=P3&amp;page=2"' in first.text
    second = await client.get("/history?priority=P3&page=2")
    assert ids_listed(second.text) == [created[1]["id"], created[0]["id"]] and 'rel="prev"' in second.text


async def test_detail_shows_timeline_and_comments_escaped(console_client, console_db):
    client = console_client()
    headers = await api_token(client, console_db, "reporter", "rita")
    incident = await create(client, headers, title="<script>alert(1)</script>", note="첫 대응 <b>")
    incident = await move(client, headers, incident, "identified")
    r = await client.post(
        f"/api/incidents/{incident['id']}/comments", json={"message": "<img src=x onerror=alert(1)>"}, headers=headers
    )
    assert r.status_code == 201
    await sign_in(client, console_db, "viewer")
    html = (await client.get(f"/{incident['id']}")).text
    assert "<script>alert(1)</script>" not in html.split('<script type="application/json"')[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.index("now identified") < html.index("첫 대응 &lt;b&gt;")  # newest first


async def test_unknown_incident_and_bad_parameters_are_client_errors(console_client, console_db):
    client = console_client()
    await sign_in(client, console_db, "viewer")
    missing = await client.get("/inc-2099-999")
    assert missing.status_code == 404 and "inc-2099-999" in missing.text
    for path in (
        "/?status=exploded",
        "/history?priority=P9",
        "/?service=Not%20A%20Service",
        "/history?page=0",
        "/" + "x" * 60,
    ):
        r = await client.get(path)
        assert r.status_code in (404, 422), (path, r.status_code)


async def test_admin_pages_list_what_the_admin_apis_manage(console_client, console_db):
    client = console_client()
    headers = await api_token(client, console_db, "admin", "ada")
    r = await client.post(
        "/api/maintenance",
        headers=headers,
        json={
            "title": "DB 업그레이드",
            "affected_services": ["id-recognition"],
            "starts_at": "2026-09-01T00:00:00Z",
            "ends_at": "2026-09-01T02:00:00Z",
        },
    )
    assert r.status_code == 201
    await api_token(client, console_db, "viewer", "vic")
    await sign_in(client, console_db, "admin", "ada")
    users = (await client.get("/admin/users")).text
    assert 'data-user="vic"' in users and 'data-user="ada"' in users
    assert 'data-url="/api/users/' in users
    services = (await client.get("/admin/services")).text
    assert 'data-service="id-recognition"' in services and 'name="tier"' in services
    maintenance = (await client.get("/admin/maintenance")).text
    assert "DB 업그레이드" in maintenance and "2026-09-01 00:00" in maintenance
