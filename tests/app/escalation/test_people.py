"""Levels that page people: a schedule resolves to whoever is on call when the level fires, a user is
paged by email (a real SMTP server, aiosmtpd) through their own paging subscription, and the email's
signed link acknowledges: GET shows a confirm page and changes nothing, POST acknowledges as the
recipient; a used, forged or expired link is refused; the next level never fires."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from app.escalation import engine, links
from tests.app.escalation.conftest import make_policy
from tests.app.escalation.test_engine import HORIZON, _open
from tests.app.notifications.conftest import wait_until

SCHEDULE = {
    "id": "primary",
    "name": "Primary",
    "time_zone": "Europe/Berlin",
    "rotation": "daily",
    "handoff_time": "09:00",
    "start_date": "2026-01-01",
    "participants": ["ana", "ben"],
}


async def _people(staff, conn) -> dict:
    for name in ("ana", "ben", "boss", "mute"):
        await staff.user("reporter", name)
        if name != "mute":
            await conn.execute("UPDATE users SET email = $2 WHERE username = $1", name, f"{name}@example.com")
    await conn.execute("TRUNCATE oncall_schedules CASCADE")
    admin = await staff.headers("admin")
    r = await staff.client.post("/api/oncall/schedules", json=SCHEDULE, headers=admin)
    assert r.status_code == 201, r.text
    return admin


async def test_a_schedule_and_users_are_paged_by_email_and_the_link_acknowledges(staff, conn, smtp, run_worker):
    inbox, port = smtp
    admin = await _people(staff, conn)
    now = datetime.now(UTC)
    cover = {
        "username": "ben",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
    }
    assert (
        await staff.client.post("/api/oncall/schedules/primary/overrides", json=cover, headers=admin)
    ).status_code == 201
    levels = [
        {"delay_seconds": 0, "schedules": ["primary"], "users": ["mute", "ghost"]},
        {"delay_seconds": 300, "users": ["boss"]},
    ]
    await make_policy(staff, levels=levels)
    await run_worker(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", public_base_url="https://status.example.com/"
    )
    incident = await _open(staff)
    t0 = datetime.fromisoformat(incident["createdAt"])
    assert (await engine.tick(conn, t0 + timedelta(seconds=1), HORIZON))["fired"] == 1

    await wait_until(lambda: _count(inbox, 1))
    [(recipients, message)] = inbox.messages
    assert recipients == ["ben@example.com"]  # on call through the override
    body = message.get_payload(decode=True).decode()
    assert message["Subject"] == f"[SLA Monitor] Escalation level 1: [P1] {incident['title']}"
    url = re.search(r"^Acknowledge: (\S+)", body, re.M).group(1)
    assert url.startswith("https://status.example.com/escalation/acknowledge?token=")
    timeline = await _timeline(staff, incident["id"], admin)
    paged = timeline[1]["details"]
    assert paged["schedules"] == {"primary": "ben"} and paged["users"] == ["ben"]
    assert paged["missing"] == ["user:mute", "user:ghost"]  # no address; no such user
    subscription = await conn.fetchrow(
        "SELECT name, kind, email, events FROM subscriptions WHERE email = 'ben@example.com'"
    )
    assert (subscription["name"], subscription["kind"]) == ("user:ben", "email")

    path = urlsplit(url)
    page = await staff.client.get(f"{path.path}?{path.query}")  # a mail scanner fetching the link
    assert page.status_code == 200 and "Acknowledge" in page.text and incident["title"] in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert len(await _timeline(staff, incident["id"], admin)) == 2  # nothing changed
    token = path.query.removeprefix("token=")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    done = await staff.client.post(f"/{links.PATH}", content=f"token={token}", headers=form)
    assert done.status_code == 200 and 'data-ack-state="done"' in done.text
    again = await staff.client.post(f"/{links.PATH}", content=f"token={token}", headers=form)
    assert again.status_code == 409 and "acknowledged by email:ben@example.com" in again.text

    timeline = await _timeline(staff, incident["id"], admin)
    ack = timeline[-1]
    assert (ack["action"], ack["actor"]) == ("acknowledged", "email:ben@example.com")
    assert ack["details"]["via"] == "email" and ack["details"]["level"] == 1
    audit = await conn.fetchrow(
        "SELECT actor_name, details FROM audit_log WHERE action = 'escalation.acknowledged' AND target_id = $1",
        incident["id"],
    )
    assert audit["actor_name"] == "email:ben@example.com"
    assert (await engine.tick(conn, t0 + timedelta(seconds=400), HORIZON))["fired"] == 0  # boss is not paged
    await wait_until(lambda: _count(inbox, 2))  # ben is told of the acknowledgement
    assert inbox.messages[1][1]["Subject"].startswith("[SLA Monitor] Acknowledged:")


async def test_forged_or_expired_links_are_refused(staff, conn, settings):
    incident = await _open(staff)
    secret = settings.resolved_secret_key()
    link = links.AckLink(incident["id"], 1, "ana@example.com")
    expired = links.issue(secret, link, datetime.now(UTC) - timedelta(hours=25), 24)
    forged = links.issue("another-secret-entirely-0123456789", link, datetime.now(UTC), 24)
    for token, says in ((expired, "expired"), (forged, "not valid"), ("garbage", "not valid")):
        r = await staff.client.get(f"/{links.PATH}", params={"token": token})
        assert r.status_code == 400 and says in r.text, token
        r = await staff.client.post(
            f"/{links.PATH}", content=f"token={token}", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert r.status_code == 400 and says in r.text
    assert await conn.fetchval("SELECT count(*) FROM escalation_log WHERE action = 'acknowledged'") == 0


async def test_nobody_on_call_is_noted(staff, conn):
    admin = await _people(staff, conn)
    late = SCHEDULE | {"id": "later", "start_date": "2099-01-01"}
    assert (await staff.client.post("/api/oncall/schedules", json=late, headers=admin)).status_code == 201
    await make_policy(staff, levels=[{"delay_seconds": 0, "schedules": ["later", "gone"]}])
    incident = await _open(staff)
    await engine.tick(conn, datetime.fromisoformat(incident["createdAt"]), HORIZON)
    paged = (await _timeline(staff, incident["id"], admin))[1]["details"]
    assert paged["missing"] == ["schedule:later", "schedule:gone"] and paged["deliveries"] == 0


async def _count(inbox, n: int) -> bool:
    return len(inbox.messages) >= n


async def _timeline(staff, incident_id: str, headers: dict) -> list[dict]:
    r = await staff.client.get(f"/api/incidents/{incident_id}/escalation", headers=headers)
    return r.json()["escalation"]["timeline"]
