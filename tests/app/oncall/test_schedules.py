"""/api/oncall/schedules on the real app: 401 without a token, writes for admins only (403 otherwise,
422 naming the field, unknown users refused), who is on call now and at a given time, overrides with
their audit entries, the iCalendar feed behind its URL token (RFC 5545, parsed back), and
escalation.toml's schedules synced (the file owns its schedules and overrides, the feed token stays)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import icalendar
import pytest

from app import deps
from app.oncall import service
from app.oncall.service import ScheduleFileError

NOW = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)  # Wednesday; ben's week of the rotation below
BODY = {
    "id": "primary",
    "name": "Primary on-call",
    "time_zone": "America/New_York",
    "rotation": "weekly",
    "handoff_time": "09:00",
    "start_date": "2026-03-02",
    "participants": ["ana", "ben", "cho"],
}
BASE = "/api/oncall/schedules"


@pytest.fixture(autouse=True)
async def clean(conn):
    await conn.execute("TRUNCATE oncall_schedules CASCADE")
    yield


@pytest.fixture
async def admin(staff):
    staff.app.dependency_overrides[deps.clock] = lambda: NOW
    for name in BODY["participants"] + ["dee"]:
        await staff.user("reporter", name)
    return await staff.headers("admin")


async def test_reads_need_a_token_and_writes_an_admin(staff, admin):
    assert (await staff.client.get(BASE)).status_code == 401
    assert (await staff.client.post(BASE, json=BODY)).status_code == 401
    r = await staff.client.post(BASE, json=BODY, headers=await staff.headers("reporter"))
    assert r.status_code == 403
    r = await staff.client.post(BASE, json=BODY, headers=admin)
    assert r.status_code == 201, r.text
    assert (await staff.client.get(f"{BASE}/primary/calendar.ics")).status_code == 422  # no token at all


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"rotation": "hourly"}, "rotation"),
        ({"handoff_time": "25:00"}, "handoff_time"),
        ({"handoff_time": "09:00+02:00"}, "handoff_time"),
        ({"start_date": "9999-12-31"}, "start_date"),
        ({"participants": []}, "participants"),
        ({"participants": ["ana", "ana"]}, "participants"),
        ({"participants": ["ana", "nobody-here"]}, "participants[1]"),
        ({"id": "Not An Id"}, "id"),
    ],
)
async def test_bad_schedules_are_422_naming_the_field(staff, admin, change, field):
    r = await staff.client.post(BASE, json=BODY | change, headers=admin)
    assert r.status_code == 422, r.text
    assert field in {d["field"] for d in r.json()["details"]}, r.json()


async def test_who_is_on_call_now_and_at_a_time_with_overrides(staff, admin, conn):
    await staff.client.post(BASE, json=BODY, headers=admin)
    viewer = await staff.headers("viewer")
    schedule = (await staff.client.get(f"{BASE}/primary", headers=viewer)).json()["schedule"]
    assert schedule["onCallNow"] == {
        "username": "ben",
        "source": "rotation",
        "startsAt": "2026-03-09T13:00:00Z",  # 09:00 EDT, the first Monday after the DST change
        "endsAt": "2026-03-16T13:00:00Z",
    }
    assert schedule["feedUrl"] is None  # the feed URL is a credential: admins only
    at = await staff.client.get(f"{BASE}/primary/on-call", params={"at": "2026-03-09T12:59:00Z"}, headers=viewer)
    assert at.json()["onCall"]["username"] == "ana"
    naive = await staff.client.get(f"{BASE}/primary/on-call", params={"at": "2026-03-09T12:59:00"}, headers=viewer)
    assert naive.status_code == 422 and naive.json()["details"][0]["field"] == "at"
    far = await staff.client.get(f"{BASE}/primary/on-call", params={"at": "9999-12-31T23:00:00Z"}, headers=viewer)
    assert far.status_code == 422 and "2100" in far.json()["details"][0]["message"]

    holiday = {"username": "dee", "starts_at": "2026-03-11T00:00:00Z", "ends_at": "2026-03-12T00:00:00Z"}
    r = await staff.client.post(f"{BASE}/primary/overrides", json=holiday | {"note": "ben off"}, headers=admin)
    assert r.status_code == 201, r.text
    override_id = r.json()["override"]["id"]
    bad = await staff.client.post(
        f"{BASE}/primary/overrides", json=holiday | {"ends_at": "2026-03-10T00:00:00Z"}, headers=admin
    )
    assert bad.status_code == 422
    now = (await staff.client.get(f"{BASE}/primary", headers=admin)).json()["schedule"]
    assert now["onCallNow"]["username"] == "dee" and now["onCallNow"]["source"] == "override"
    assert [o["note"] for o in now["overrides"]] == ["ben off"]
    r = await staff.client.get(
        f"{BASE}/primary/timeline",
        params={"start": "2026-03-10T00:00:00Z", "end": "2026-03-13T00:00:00Z"},
        headers=viewer,
    )
    assert [(s["username"], s["source"]) for s in r.json()["segments"]] == [
        ("ben", "rotation"),
        ("dee", "override"),
        ("ben", "rotation"),
    ]
    too_long = await staff.client.get(
        f"{BASE}/primary/timeline",
        params={"start": "2026-01-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"},
        headers=viewer,
    )
    assert too_long.status_code == 422 and "92 days" in too_long.json()["message"]

    assert (await staff.client.delete(f"{BASE}/primary/overrides/{override_id}", headers=admin)).status_code == 200
    assert (await staff.client.delete(f"{BASE}/primary/overrides/{override_id}", headers=admin)).status_code == 404
    actions = await conn.fetch(
        "SELECT action, actor_name FROM audit_log WHERE target_type = 'oncall_schedule' ORDER BY id"
    )
    assert [(a["action"], a["actor_name"]) for a in actions] == [
        ("oncall_schedule.create", "admin"),
        ("oncall_override.create", "admin"),
        ("oncall_override.delete", "admin"),
    ]


async def test_calendar_feed_behind_its_token(staff, admin):
    await staff.client.post(BASE, json=BODY, headers=admin)
    await staff.client.post(
        f"{BASE}/primary/overrides",
        json={"username": "dee", "starts_at": "2026-03-11T00:00:00Z", "ends_at": "2026-03-12T00:00:00Z"},
        headers=admin,
    )
    feed_url = (await staff.client.get(f"{BASE}/primary", headers=admin)).json()["schedule"]["feedUrl"]
    parts = urlsplit(feed_url)
    r = await staff.client.get(f"{parts.path}?{parts.query}")  # no Authorization: the token is the credential
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    assert r.text.startswith("BEGIN:VCALENDAR\r\n") and "VERSION:2.0\r\n" in r.text and "PRODID:" in r.text
    calendar = icalendar.Calendar.from_ical(r.content)
    events = [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"])) for e in calendar.walk("VEVENT")]
    assert events[:5] == [
        (datetime(2026, 3, 4, 3, tzinfo=UTC), datetime(2026, 3, 9, 13, tzinfo=UTC), "On call: ana"),  # cut: a week back
        (datetime(2026, 3, 9, 13, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC), "On call: ben"),
        (datetime(2026, 3, 11, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC), "On call: dee (override)"),
        (datetime(2026, 3, 12, tzinfo=UTC), datetime(2026, 3, 16, 13, tzinfo=UTC), "On call: ben"),
        (datetime(2026, 3, 16, 13, tzinfo=UTC), datetime(2026, 3, 23, 13, tzinfo=UTC), "On call: cho"),
    ]
    uids = [str(e["uid"]) for e in calendar.walk("VEVENT")]
    assert len(set(uids)) == len(uids)
    again = await staff.client.get(f"{parts.path}?{parts.query}")
    assert [str(e["uid"]) for e in icalendar.Calendar.from_ical(again.content).walk("VEVENT")] == uids  # stable

    wrong = await staff.client.get(f"{parts.path}?token=not-the-token")
    assert wrong.status_code == 404 and wrong.json()["error"] == "not_found"
    rotated = await staff.client.post(f"{BASE}/primary/feed-token", headers=admin)
    assert rotated.json()["schedule"]["feedUrl"] != feed_url
    assert (await staff.client.get(f"{parts.path}?{parts.query}")).status_code == 404  # the old link is revoked


FILE = """
[[schedules]]
id = "primary"
name = "Primary"
time_zone = "Asia/Seoul"
rotation = "daily"
handoff_time = 09:00:00
start_date = 2026-03-01
participants = ["ana", "ben"]

[[schedules.overrides]]
username = "cho"
starts_at = 2026-03-11T00:00:00Z
ends_at = 2026-03-11T06:00:00Z
note = "swap"
"""


async def test_escalation_toml_schedules_sync(staff, admin, conn, tmp_path):
    path = tmp_path / "escalation.toml"
    path.write_text(FILE)
    assert await service.sync_schedules(conn, service.load_schedules(path)) == (["primary"], [])
    token = await conn.fetchval("SELECT feed_token FROM oncall_schedules")
    r = await staff.client.post(
        f"{BASE}/primary/overrides",
        json={"username": "dee", "starts_at": "2026-03-20T00:00:00Z", "ends_at": "2026-03-21T00:00:00Z"},
        headers=admin,
    )
    assert r.status_code == 201
    path.write_text(FILE.replace('"swap"', '"swapped"'))
    assert await service.sync_schedules(conn, service.load_schedules(path)) == ([], [])  # rotation unchanged
    rows = await conn.fetch("SELECT username, note, managed_by FROM oncall_overrides ORDER BY starts_at")
    assert [tuple(r) for r in rows] == [("cho", "swapped", "config"), ("dee", "", "api")]
    assert await conn.fetchval("SELECT feed_token FROM oncall_schedules") == token
    schedule = (await staff.client.get(f"{BASE}/primary", headers=admin)).json()["schedule"]
    assert schedule["managedBy"] == "config" and schedule["onCallNow"]["username"] == "cho"

    path.write_text("")
    assert await service.sync_schedules(conn, service.load_schedules(path)) == ([], ["primary"])
    path.write_text(FILE.replace("Asia/Seoul", "Asia/Nowhere"))
    with pytest.raises(ScheduleFileError, match=r"schedules\[0\] \(primary\): time_zone: .*Asia/Nowhere"):
        service.load_schedules(path)
