"""The on-call service hands out typed records (issue 17): read by attribute in Python, and the API's
answers are those records as JSON, byte for byte what the routes wrote when the service built dicts
(instants "Z" in UTC, an `at` given with an offset keeps it, `startDate` a date, `handoffTime` HH:MM)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app import deps
from app.oncall import service
from app.oncall.models import OnCallRead, OverrideRead, ScheduleRead
from tests.app.oncall.test_schedules import BASE, BODY, NOW  # ben's week of the rotation

HOLIDAY = {"username": "dee", "starts_at": "2026-03-11T09:00:00+09:00", "ends_at": "2026-03-12T00:00:00.25Z"}


@pytest.fixture(autouse=True)
async def clean(conn):
    await conn.execute("TRUNCATE oncall_schedules CASCADE")
    yield


@pytest.fixture
async def schedule(staff, conn) -> int:
    """The schedule with one override, its stamps fixed; returns the override's id."""
    staff.app.dependency_overrides[deps.clock] = lambda: NOW
    for name in BODY["participants"] + ["dee"]:
        await staff.user("reporter", name)
    admin = await staff.headers("admin")
    assert (await staff.client.post(BASE, json=BODY, headers=admin)).status_code == 201
    r = await staff.client.post(f"{BASE}/primary/overrides", json=HOLIDAY | {"note": "ben off"}, headers=admin)
    assert r.status_code == 201, r.text
    await conn.execute(
        "UPDATE oncall_schedules SET created_at = '2026-03-01T08:00:00Z', updated_at = '2026-03-01T08:30:00.5Z'"
    )
    return int(r.json()["override"]["id"])


def _wire(answer: object) -> bytes:
    """As FastAPI's JSONResponse writes a body."""
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


async def test_the_service_returns_records_read_by_attribute(staff, conn, schedule):
    record = await service.get(conn, "primary", NOW, None)
    assert isinstance(record, ScheduleRead)
    assert record.time_zone == "America/New_York" and record.handoff_time == "09:00"
    assert isinstance(record.on_call_now, OnCallRead)
    assert (record.on_call_now.username, record.on_call_now.source) == ("dee", "override")
    assert record.on_call_now.starts_at == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)
    [override] = record.overrides
    assert isinstance(override, OverrideRead)
    assert (override.id, override.managed_by, override.created_by) == (schedule, "api", "admin")
    [listed] = await service.list_schedules(conn, NOW, "https://slamon.example")
    assert listed.feed_url is not None and listed.feed_url.startswith("https://slamon.example/api/oncall/")
    assert listed.model_copy(update={"feed_url": None}) == record


async def test_answers_are_the_records_as_json_byte_for_byte(staff, conn, schedule):
    viewer = await staff.headers("viewer")
    r = await staff.client.get(f"{BASE}/primary", headers=viewer)
    expected = (
        '{"schedule":{"id":"primary","name":"Primary on-call","timeZone":"America/New_York",'
        '"rotation":"weekly","handoffTime":"09:00","startDate":"2026-03-02","participants":["ana","ben","cho"],'
        '"managedBy":"api","onCallNow":{"username":"dee","source":"override","startsAt":"2026-03-11T00:00:00Z",'
        '"endsAt":"2026-03-12T00:00:00.250000Z"},"overrides":[{"id":OVERRIDE_ID,"username":"dee",'
        '"startsAt":"2026-03-11T00:00:00Z","endsAt":"2026-03-12T00:00:00.250000Z","note":"ben off",'
        '"managedBy":"api","createdBy":"admin"}],"feedUrl":null,"createdAt":"2026-03-01T08:00:00Z",'
        '"updatedAt":"2026-03-01T08:30:00.500000Z"}}'
    )
    assert r.content.decode() == expected.replace("OVERRIDE_ID", str(schedule))
    record = await service.get(conn, "primary", NOW, None)
    assert r.content == _wire({"schedule": record.to_public()})  # what the console page renders

    r = await staff.client.get(f"{BASE}/primary/on-call", params={"at": "2026-03-11T12:00:00+09:00"}, headers=viewer)
    assert r.content.decode() == (
        '{"scheduleId":"primary","at":"2026-03-11T12:00:00+09:00","onCall":{"username":"dee",'
        '"source":"override","startsAt":"2026-03-11T00:00:00Z","endsAt":"2026-03-12T00:00:00.250000Z"}}'
    )
    r = await staff.client.get(f"{BASE}/primary/on-call", params={"at": "2026-01-01T00:00:00Z"}, headers=viewer)
    assert r.content == b'{"scheduleId":"primary","at":"2026-01-01T00:00:00Z","onCall":null}'

    r = await staff.client.get(
        f"{BASE}/primary/timeline",
        params={"start": "2026-03-11T00:00:00Z", "end": "2026-03-12T12:00:00+09:00"},
        headers=viewer,
    )
    assert r.content.decode() == (
        '{"scheduleId":"primary","start":"2026-03-11T00:00:00Z","end":"2026-03-12T12:00:00+09:00",'
        '"segments":[{"username":"dee","source":"override","startsAt":"2026-03-11T00:00:00Z",'
        '"endsAt":"2026-03-12T00:00:00.250000Z"},{"username":"ben","source":"rotation",'
        '"startsAt":"2026-03-12T00:00:00.250000Z","endsAt":"2026-03-12T12:00:00+09:00"}]}'
    )
