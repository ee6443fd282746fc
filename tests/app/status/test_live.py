"""Live status events against the API (issue 14 §2): a client that applies only the events
(`status-update`, `uptime-updated`) always shows what a fresh GET /api/system-status and the uptime API
show. Real database, real Redis, a real Socket.IO client on a live API process; the computation is
app.status.live.sync, what the worker runs after every write, here called with a pinned clock so the
API read with the same clock can be compared exactly."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from app.ingest.service import CheckRow, write_checks
from app.realtime.publisher import Publisher, channel_for
from app.status import live
from app.status.service import current_status
from tests.app.test_realtime import Client, server  # noqa: F401 (fixture)
from tests.conftest import reset

UTC = ZoneInfo("UTC")
SERVICES = ("id-recognition", "face-compare")
REGIONS = ("seoul", "tokyo", "frankfurt")


class Follower(Client):
    """A browser's view built from the events alone, starting from one GET."""

    def __init__(self):
        super().__init__()
        self.received = 0
        self.status: dict[str, str] = {}
        self.overall = "operational"
        self.days: dict[tuple[str, str], str] = {}
        self.touched: set[tuple[str, str]] = set()

    async def _record(self, event, data):
        self.received += 1
        if event == "status-update":
            assert data["seq"]
            if data.get("removed"):
                self.status.pop(data["serviceId"], None)
            else:
                self.status[data["serviceId"]] = data["status"]
            self.overall = data["overallStatus"]
        elif event == "uptime-updated":
            assert data["seq"]
            self.days[(data["serviceId"], data["date"])] = data["status"]
            self.touched.add((data["serviceId"], data["date"]))

    def load(self, body: dict) -> None:
        self.overall = body["overallStatus"]
        first = _first_day(body)
        for s in body["services"]:
            self.status[s["id"]] = s["status"]
            for i, letter in enumerate(s["uptimeData"]):
                self.days[(s["id"], (first + timedelta(days=i)).isoformat())] = letter

    async def until(self, count: int) -> None:
        for _ in range(400):
            if self.received >= count:
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"received {self.received} of {count} events")


def _first_day(body: dict) -> date:
    today = datetime.fromisoformat(body["lastUpdated"].replace("Z", "+00:00")).date()
    return today - timedelta(days=len(body["services"][0]["uptimeData"]) - 1)


class World:
    """The writes a step can make, and the comparison after it."""

    def __init__(self, conn, staff, api, publisher, follower, now):
        self.conn, self.staff, self.api, self.publisher, self.follower, self.now = (
            conn,
            staff,
            api,
            publisher,
            follower,
            now,
        )
        self.incidents: list[dict] = []
        self.sent = 0

    async def sync(self) -> list[live.LiveEvent]:
        events = await live.sync(self.conn, self.publisher, self.now, "UTC", UTC)
        self.sent += len(events)
        await self.follower.until(self.sent)
        return events

    async def agree(self) -> None:
        body = (await self.api.get("/api/system-status")).json()
        assert self.follower.overall == body["overallStatus"]
        assert self.follower.status == {s["id"]: s["status"] for s in body["services"]}
        first = _first_day(body)
        grid = {
            (s["id"], (first + timedelta(days=i)).isoformat()): letter
            for s in body["services"]
            for i, letter in enumerate(s["uptimeData"])
        }
        assert {k: self.follower.days[k] for k in grid} == grid
        for service_id, day in sorted(self.follower.touched):
            r = await self.api.get(f"/api/uptime/{service_id}", params={"months": 1, "startDate": day})
            month = r.json()["months"][0]
            assert month["days"][date.fromisoformat(day).day - 1] == self.follower.days[(service_id, day)], (
                service_id,
                day,
            )
        self.follower.touched.clear()

    async def slot(self, service_id: str, minutes_ago: int, outcomes: tuple[str, ...]) -> None:
        """One slot in some regions: 'ok', 'slow' (8 s, over the 7 s target) or 'fail'."""
        ts = self.now - timedelta(minutes=minutes_ago)
        rows = [
            CheckRow(
                ts,
                service_id,
                region,
                outcome != "fail",
                503 if outcome == "fail" else 200,
                8000 if outcome == "slow" else 40 if outcome == "fail" else 120,
                "http_error" if outcome == "fail" else None,
            )
            for region, outcome in zip(REGIONS, outcomes)
        ]
        await write_checks(self.conn, rows, now=self.now)

    async def late_day(self, service_id: str, days_ago: int, failed: int) -> None:
        """A whole past day's slots arriving late (a prober's spool replayed), `failed` of them failed."""
        start = datetime.combine(self.now.date() - timedelta(days=days_ago), datetime.min.time(), timezone.utc)
        rows = [
            CheckRow(
                start + timedelta(minutes=m),
                service_id,
                "seoul",
                m >= failed,
                200 if m >= failed else 503,
                100 if m >= failed else 40,
                None if m >= failed else "http_error",
            )
            for m in range(1440)
        ]
        await write_checks(self.conn, rows, now=self.now)

    async def open_incident(self, service_id: str, severity: str) -> None:
        r = await self.staff.client.post(
            "/api/incidents",
            headers=await self.staff.headers("reporter"),
            json={"title": "live", "description": "", "severity": severity, "affected_services": [service_id]},
        )
        assert r.status_code == 201, r.text
        self.incidents.append(r.json()["incident"])

    async def reprioritise(self, index: int, priority: str) -> None:
        if not self.incidents:
            return
        incident = self.incidents[index % len(self.incidents)]
        r = await self.staff.client.put(
            f"/api/incidents/{incident['id']}",
            headers=await self.staff.headers("reporter"),
            json={"priority": priority, "version": incident["version"]},
        )
        assert r.status_code == 200, r.text
        self.incidents[index % len(self.incidents)] = r.json()["incident"]

    async def resolve(self, index: int) -> None:
        if not self.incidents:
            return
        incident = self.incidents.pop(index % len(self.incidents))
        r = await self.staff.client.post(
            f"/api/incidents/{incident['id']}/updates",
            headers=await self.staff.headers("reporter"),
            json={"status": "resolved", "description": "fixed", "version": incident["version"]},
        )
        assert r.status_code == 201, r.text

    async def maintenance(self, service_id: str, days_ago: int, hours: int) -> None:
        start = datetime.combine(self.now.date() - timedelta(days=days_ago), datetime.min.time(), timezone.utc)
        r = await self.staff.client.post(
            "/api/maintenance",
            headers=await self.staff.headers("admin"),
            json={
                "title": "upgrade",
                "affected_services": [service_id],
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=hours)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text


services = st.sampled_from(SERVICES)
outcome = st.sampled_from(("ok", "slow", "fail"))
steps = st.one_of(
    st.tuples(st.just("slot"), services, st.integers(1, 5), st.lists(outcome, min_size=1, max_size=3).map(tuple)),
    st.tuples(st.just("late_day"), services, st.integers(1, 4), st.sampled_from((0, 1, 30, 200))),
    st.tuples(st.just("open_incident"), services, st.sampled_from(("critical", "high", "medium"))),
    st.tuples(st.just("reprioritise"), st.integers(0, 3), st.sampled_from(("P1", "P2", "P3"))),
    st.tuples(st.just("resolve"), st.integers(0, 3)),
    st.tuples(st.just("maintenance"), services, st.integers(1, 4), st.sampled_from((2, 23))),
)


@hsettings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan=st.lists(steps, min_size=2, max_size=7))
async def test_a_client_applying_only_the_events_always_matches_the_api(
    pool, staff, make_client, settings, server, plan
):  # noqa: F811
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    publisher = Publisher(settings.redis_url, channel_for(settings))
    follower = Follower()
    async with pool.acquire() as conn:
        await reset(conn)
        api = await make_client(now=now)
        await follower.connect(server)
        try:
            await follower.join("system-status")
            await follower.join("uptime")
            follower.load((await api.get("/api/system-status")).json())
            world = World(conn, staff, api, publisher, follower, now)
            await world.sync()  # the first announcement: every service's status
            await world.agree()
            for name, *args in plan:
                await getattr(world, name)(*args)
                await world.sync()
                await world.agree()
        finally:
            await follower.sio.disconnect()
            await publisher.close()


@pytest.fixture
async def world(conn, staff, make_client, settings, server):  # noqa: F811
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    publisher = Publisher(settings.redis_url, channel_for(settings))
    follower = Follower()
    api = await make_client(now=now)
    await follower.connect(server)
    await follower.join("system-status")
    await follower.join("uptime")
    follower.load((await api.get("/api/system-status")).json())
    world = World(conn, staff, api, publisher, follower, now)
    await world.sync()
    yield world
    await follower.sio.disconnect()
    await publisher.close()


async def test_a_late_batch_sends_uptime_updated_for_its_past_day(world):
    await world.late_day("face-compare", 3, failed=200)
    events = await world.sync()
    day = (world.now.date() - timedelta(days=3)).isoformat()
    assert [(e.event, e.data) for e in events] == [
        ("uptime-updated", {"serviceId": "face-compare", "date": day, "status": "mo"})
    ]
    await world.agree()


async def test_an_incident_write_sends_uptime_updated_for_today(world):
    await world.late_day("id-recognition", 1, failed=0)
    await world.sync()
    today = world.now.date()
    midnight = datetime.combine(today, datetime.min.time(), timezone.utc)
    minutes = int((world.now - midnight).total_seconds() // 60)
    rows = [
        CheckRow(midnight + timedelta(minutes=m), "id-recognition", "seoul", True, 200, 100) for m in range(minutes + 1)
    ]
    await write_checks(world.conn, rows, now=world.now)
    await world.sync()
    await world.agree()
    assert world.follower.days[("id-recognition", today.isoformat())] == "o"
    await world.open_incident("id-recognition", "medium")
    events = await world.sync()
    assert ("uptime-updated", {"serviceId": "id-recognition", "date": today.isoformat(), "status": "po"}) in [
        (e.event, e.data) for e in events
    ]
    assert [e.data["status"] for e in events if e.event == "status-update"] == ["degraded"]
    await world.agree()


async def test_nothing_is_sent_when_nothing_changed(world):
    await world.slot("face-compare", 2, ("ok",))
    assert [e.event for e in await world.sync()] == ["uptime-updated"]  # today: no data -> too few checks
    await world.slot("face-compare", 1, ("fail", "fail"))
    assert [(e.event, e.data["status"]) for e in await world.sync()] == [("status-update", "degraded")]
    assert await world.sync() == []
    await world.agree()


@pytest.mark.parametrize(
    "slots, priorities, status",
    [
        ([], set(), "operational"),
        ([(True, 100)], set(), "operational"),
        ([(True, 8000)], set(), "degraded"),
        ([(False, None)], set(), "degraded"),
        ([(False, None), (False, None)], set(), "degraded"),
        ([(False, None)] * 3, set(), "outage"),
        ([(True, 100), (False, None), (False, None)], set(), "operational"),
        ([(True, 100)] * 3, {"P1"}, "outage"),
        ([(True, 100)] * 3, {"P3"}, "degraded"),
        ([(True, 100)] * 3, {"P2", "P3"}, "degraded"),
    ],
)
def test_the_one_current_status_rule(slots, priorities, status):
    """SLA-MATH "Current status"; slots newest first, as the majority of regions decided them."""
    latest = [{"ok": ok, "latency_ms": latency} for ok, latency in slots]
    assert current_status(latest, priorities, 7000) == status


async def test_time_alone_moves_the_grid_a_new_day_is_announced(world):
    """What the worker's timer is for: no write, but a new day joins the grid."""
    tomorrow = world.now + timedelta(days=1)
    events = await live.sync(world.conn, world.publisher, tomorrow, "UTC", UTC)
    new_day = tomorrow.date().isoformat()
    assert sorted((e.event, e.data["serviceId"], e.data["date"], e.data["status"]) for e in events) == sorted(
        ("uptime-updated", sid, new_day, "nd") for sid in world.follower.status
    )


async def test_computations_of_several_workers_take_turns_and_announce_once(world, pool):
    """Two workers woken by the same write: one verdict, not one each."""
    await world.slot("face-compare", 1, ("fail", "fail", "ok"))

    async def one_worker():
        async with pool.acquire() as conn:
            return await live.sync(conn, world.publisher, world.now, "UTC", UTC)

    results = await asyncio.gather(one_worker(), one_worker())
    updates = [e.data["status"] for events in results for e in events if e.event == "status-update"]
    assert updates == ["degraded"]
    world.sent += sum(len(events) for events in results)
    await world.follower.until(world.sent)
    await world.agree()
