"""Socket.IO end to end: a real uvicorn server on a free port, real python-socketio clients, Redis
fan-out. Rooms and events of PRD §5.2, presence, auth on connect, revocation, replay."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import httpx
import pytest
import socketio
import uvicorn

from app.main import create_app
from app.realtime.publisher import Publisher, channel_for
from tests.conftest import free_port  # noqa: F401 (other tests import it from here)

ROOT = Path(__file__).resolve().parents[2]

INCIDENT = {"title": "지연", "description": "", "severity": "high", "affected_services": ["id-recognition"]}


@pytest.fixture
async def server(staff, settings):
    """A live API process (lifespan and all) in this event loop; yields its base URL."""
    port = free_port()
    app = create_app(settings)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(uv.serve())
    async with asyncio.timeout(60):  # bounded: a failed start (its lifespan) must fail, not wait for ever
        while not uv.started:
            if task.done():
                pytest.fail(f"the API process did not start: {task.exception() or 'its lifespan failed'}")
            await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    async with asyncio.timeout(60):  # uvicorn waits for open connections to close
        await task


class Client:
    """A python-socketio client that records every event it receives."""

    def __init__(self):
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue = asyncio.Queue()
        self.received: list[tuple[str, dict]] = []  # everything, in order (next() consumes `events`)
        self.sio.on("*", self._record)

    async def _record(self, event, data):
        self.received.append((event, data))
        await self.events.put((event, data))

    async def connect(self, url, token=None):
        await self.sio.connect(url, auth={"token": token} if token else None, transports=["websocket"], wait_timeout=5)
        return self

    async def join(self, room):
        return await self.sio.call("join-room", {"room": room}, timeout=5)

    async def next(self, event, timeout=5.0):
        while True:
            name, data = await asyncio.wait_for(self.events.get(), timeout)
            if name == event:
                return data

    async def disconnected(self, wait=2.5) -> bool:
        """Whether the server drops this socket within `wait` seconds."""
        for _ in range(int(wait / 0.05)):
            if not self.sio.connected:
                return True
            await asyncio.sleep(0.05)
        return not self.sio.connected

    async def nothing(self, event, wait=0.3) -> bool:
        try:
            await self.next(event, wait)
        except TimeoutError:
            return True
        return False


async def token(staff, role, username=None):
    return (await staff.login(role, username))["accessToken"]


async def test_public_rooms_get_incident_events_without_a_token(staff, server):
    anon = await Client().connect(server)
    assert (await anon.join("incidents"))["ok"] is True
    assert (await anon.join("slo"))["ok"] is True  # the SLO events' room is public too
    assert await anon.join("incident:inc-2025-001") == {"ok": False, "error": "unauthorized"}
    assert (await anon.join("admin-secrets"))["error"] == "unknown_room"
    r = await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    created = await anon.next("incident-created")
    assert created["incident"]["id"] == r.json()["incident"]["id"] and created["seq"]
    incident = r.json()["incident"]
    await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=await staff.headers("reporter"),
        json={"status": "identified", "description": "found it", "version": 1},
    )
    updated = await anon.next("incident-updated")
    assert updated["incidentId"] == incident["id"] and updated["update"]["status"] == "identified"
    await anon.sio.disconnect()


async def test_collaboration_presence_editing_comments(staff, server):
    r = await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    room = f"incident:{r.json()['incident']['id']}"
    alice = await Client().connect(server, await token(staff, "reporter", "alice"))
    bob = await Client().connect(server, await token(staff, "admin", "bob"))
    assert (await alice.join(room))["ok"]
    ack = await bob.join(room)
    assert {m["name"] for m in ack["members"]} == {"alice", "bob"}
    joined = await alice.next("user-joined")
    assert joined.pop("seq") and joined == {
        "room": room,
        "user": {"id": staff.user_ids["bob"], "name": "bob", "role": "admin"},
    }
    incident_id = room.split(":", 1)[1]
    assert (await bob.sio.call("incident-editing", {"incidentId": incident_id, "field": "title", "isEditing": True}))[
        "ok"
    ]
    editing = await alice.next("incident-editing")
    assert editing["userName"] == "bob" and editing["field"] == "title" and editing["isEditing"] is True
    await staff.client.post(
        f"/api/incidents/{incident_id}/comments",
        headers=await staff.headers("reporter", "alice"),
        json={"message": "<b>db pool</b>"},
    )
    comment = await bob.next("incident-comment")
    assert comment["comment"]["message"] == "<b>db pool</b>" and comment["comment"]["userName"] == "alice"
    await bob.sio.disconnect()  # a dropped socket clears its editing flag and leaves
    cleared = await alice.next("incident-editing")
    assert cleared["isEditing"] is False and cleared["userName"] == "bob"
    left = await alice.next("user-left")
    assert left.pop("seq") and left == {"room": room, "userId": staff.user_ids["bob"], "userName": "bob"}
    await alice.sio.disconnect()


async def test_auto_save_stores_the_draft(staff, server):
    alice_token = await token(staff, "reporter", "alice")
    tab1 = await Client().connect(server, alice_token)
    tab2 = await Client().connect(server, alice_token)
    ack = await tab1.sio.call("auto-save", {"incidentId": "new", "data": {"title": "half typed", "severity": "low"}})
    assert ack["ok"] is True
    other_tab = await tab2.next("auto-save")
    assert other_tab["data"] == {"title": "half typed", "severity": "low"}
    r = await staff.client.get("/api/incidents/drafts/new", headers={"Authorization": f"Bearer {alice_token}"})
    assert r.json()["draft"]["data"]["title"] == "half typed"
    bad = await tab1.sio.call("auto-save", {"incidentId": "new", "data": {"title": "x" * 300}})
    assert bad["ok"] is False and bad["error"] == "validation_error"
    anon = await Client().connect(server)
    assert (await anon.sio.call("auto-save", {"incidentId": "new", "data": {}}))["error"] == "forbidden"
    for c in (tab1, tab2, anon):
        await c.sio.disconnect()


async def test_bad_tokens_are_refused_and_revocation_disconnects(staff, server):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Client().connect(server, "not-a-jwt")
    target = await staff.login("reporter", "carol")
    carol = await Client().connect(server, target["accessToken"])
    await carol.join("incidents")
    r = await staff.client.put(
        f"/api/users/{target['user']['id']}", json={"role": "viewer"}, headers=await staff.headers("admin")
    )
    assert r.status_code == 200
    assert (await carol.next("session-ended"))["reason"] == "account changed"
    assert await carol.disconnected()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Client().connect(server, target["accessToken"])


async def test_other_processes_emit_through_redis_and_clients_replay_what_they_missed(staff, server, settings):
    client = await Client().connect(server)
    seq0 = (await client.join("system-status"))["seq"]
    await client.join("incidents")
    prober = Publisher(settings.redis_url, channel_for(settings))  # what a prober or worker process does
    await prober.publish(
        "status-update",
        {"serviceId": "id-recognition", "status": "down", "timestamp": "2025-08-28T10:00:00Z"},
        ["system-status"],
    )
    status = await client.next("status-update")
    assert status["serviceId"] == "id-recognition" and status["status"] == "down"
    await client.sio.disconnect()
    # Missed while offline: one public event, one comment in an incident room.
    r = await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    incident_id = r.json()["incident"]["id"]
    await staff.client.post(
        f"/api/incidents/{incident_id}/comments", headers=await staff.headers("reporter"), json={"message": "hello"}
    )
    replay = (await staff.client.get(f"/api/realtime/replay?since={seq0}")).json()
    assert [e["event"] for e in replay["events"]] == ["status-update", "incident-created"]
    assert replay["complete"] is True and replay["latest"] >= replay["events"][-1]["seq"]
    after = (await staff.client.get(f"/api/realtime/replay?since={replay['events'][0]['seq']}")).json()
    assert [e["event"] for e in after["events"]] == ["incident-created"]
    room = f"incident:{incident_id}"
    assert (await staff.client.get("/api/realtime/replay", params={"since": seq0, "room": room})).status_code == 401
    r = await staff.client.get(
        "/api/realtime/replay", params={"since": seq0, "room": room}, headers=await staff.headers("reporter")
    )
    assert [e["event"] for e in r.json()["events"]] == ["incident-created", "incident-comment"]
    await prober.close()


async def test_socket_activity_keeps_the_login_alive_and_an_idle_login_ends_the_socket(staff, server):
    r = await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    room = f"incident:{r.json()['incident']['id']}"
    alice = await Client().connect(server, await token(staff, "reporter", "alice"))
    alice_sessions = "SELECT last_seen_at FROM sessions WHERE user_id = $1"
    user_id = staff.user_ids["alice"]
    # 90 minutes without a REST call, but working in the console over the socket: still signed in
    await staff.conn.execute(
        "UPDATE sessions SET last_seen_at = now() - interval '90 minutes' WHERE user_id = $1", user_id
    )
    assert (await alice.join(room))["ok"]
    assert await staff.conn.fetchval(f"SELECT now() - ({alice_sessions}) < interval '1 minute'", user_id)

    dave = await Client().connect(server, await token(staff, "reporter", "dave"))
    await staff.conn.execute(
        "UPDATE sessions SET last_seen_at = now() - interval '3 hours' WHERE user_id = $1", staff.user_ids["dave"]
    )
    assert await dave.join(room) == {"ok": False, "error": "unauthorized"}
    assert (await dave.next("session-ended"))["reason"] == "session expired"
    assert await dave.disconnected()
    await alice.sio.disconnect()


async def test_presence_of_a_process_that_died_is_dropped(staff, server, settings):
    """An API process killed with its sockets open never sends their user-left: its presence entries
    outlive it until the next join finds its liveness key gone."""
    r = await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    room = f"incident:{r.json()['incident']['id']}"
    alice = await Client().connect(server, await token(staff, "reporter", "alice"))
    assert (await alice.join(room))["ok"]
    hub = Publisher(settings.redis_url, channel_for(settings))
    ghost = {
        "id": "00000000-0000-0000-0000-000000000000",
        "name": "ghost",
        "role": "reporter",
        "server": "a-process-that-died",
    }
    await hub.redis.hset(f"{channel_for(settings)}:presence:{room}", "ghost-sid", json.dumps(ghost))
    bob = await Client().connect(server, await token(staff, "admin", "bob"))
    ack = await bob.join(room)
    assert {m["name"] for m in ack["members"]} == {"alice", "bob"}
    assert (await alice.next("user-left"))["userName"] == "ghost"
    await hub.close()
    for c in (alice, bob):
        await c.sio.disconnect()


async def test_a_viewer_follows_an_incident_room_read_only(staff, server):
    """Viewers get the room's comments, updates and presence (appearing as viewers, as PRD §5.2's
    user-joined allows) but cannot say they edit a field, save drafts, or read rooms they may not."""
    r = await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    incident = r.json()["incident"]
    room = f"incident:{incident['id']}"
    alice = await Client().connect(server, await token(staff, "reporter", "alice"))
    assert (await alice.join(room))["ok"]
    vic_token = await token(staff, "viewer", "vic")
    vic = await Client().connect(server, vic_token)
    ack = await vic.join(room)
    assert ack["ok"] is True and {(m["name"], m["role"]) for m in ack["members"]} == {
        ("alice", "reporter"),
        ("vic", "viewer"),
    }
    joined = await alice.next("user-joined")
    assert joined.pop("seq") and joined == {
        "room": room,
        "user": {"id": staff.user_ids["vic"], "name": "vic", "role": "viewer"},
    }

    refused = await vic.sio.call(
        "incident-editing", {"incidentId": incident["id"], "field": "title", "isEditing": True}, timeout=5
    )
    assert refused == {"ok": False, "error": "forbidden"}
    assert (await vic.sio.call("auto-save", {"incidentId": incident["id"], "data": {"title": "x"}}, timeout=5))[
        "error"
    ] == "forbidden"
    assert await alice.nothing("incident-editing")

    await staff.client.post(
        f"/api/incidents/{incident['id']}/comments",
        headers=await staff.headers("reporter", "alice"),
        json={"message": "pool raised"},
    )
    assert (await vic.next("incident-comment"))["comment"]["message"] == "pool raised"
    await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=await staff.headers("reporter", "alice"),
        json={"status": "identified", "description": "found it", "version": 1},
    )
    assert (await vic.next("incident-updated"))["update"]["status"] == "identified"
    replay = await staff.client.get(
        "/api/realtime/replay",
        params={"since": ack["seq"], "room": room},
        headers={"Authorization": f"Bearer {vic_token}"},
    )
    assert [e["event"] for e in replay.json()["events"]] == ["incident-comment", "incident-updated"]

    assert await vic.join("incident:inc-2099-999") == {"ok": False, "error": "not_found"}
    await vic.sio.disconnect()
    left = await alice.next("user-left")
    assert left.pop("seq") and left == {"room": room, "userId": staff.user_ids["vic"], "userName": "vic"}
    await alice.sio.disconnect()


async def test_an_event_for_several_rooms_reaches_each_socket_once(staff, server):
    """The fan-out sends once per socket, whatever the number of its rooms the event names; a socket
    that dropped meanwhile does not stop the others."""
    r = await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    incident = r.json()["incident"]
    both = await Client().connect(server, await token(staff, "reporter", "alice"))
    assert (await both.join("incidents"))["ok"] and (await both.join(f"incident:{incident['id']}"))["ok"]
    public = [await Client().connect(server) for _ in range(3)]
    for client in public:
        assert (await client.join("incidents"))["ok"]
    elsewhere = await Client().connect(server)
    assert (await elsewhere.join("uptime"))["ok"]
    await public[0].sio.eio.ws.close()  # closed under its client just before the event
    await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=await staff.headers("reporter"),
        json={"status": "identified", "description": "found it", "version": incident["version"]},
    )
    for client in (both, *public[1:]):
        assert (await client.next("incident-updated"))["update"]["status"] == "identified"
    assert await both.nothing("incident-updated") and await elsewhere.nothing("incident-updated")
    for client in (both, *public[1:], elsewhere):
        await client.sio.disconnect()


@pytest.mark.parametrize("options, deflate", [((), False), (("--ws-deflate",), True)])
async def test_slamon_api_negotiates_deflate_only_when_asked(
    staff_db, database_url, settings, tmp_path, options, deflate
):
    """`slamon api` (the process `slamon up` starts) refuses permessage-deflate, which browsers offer,
    unless --ws-deflate: compressing costs CPU for every frame of every socket. Events still arrive."""
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_SECRET_KEY": "realtime-cli-secret-0123456789",
        "SLAMON_DATA_DIR": str(tmp_path),
        "SLAMON_POOL_MIN": "1",
        "SLAMON_POOL_MAX": "2",
    }
    port = free_port()
    api = subprocess.Popen([sys.executable, "-m", "app.cli", "api", "--port", str(port), *options], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as http:
            for _ in range(400):
                try:
                    if (await http.get("/api/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", compress=15
            ) as ws:
                assert (await ws.receive_str()).startswith("0{")
                assert bool(ws.compress) is deflate
        browser = await Client().connect(base)
        await browser.join("system-status")
        publisher = Publisher(settings.redis_url, channel_for(settings))
        await publisher.publish("status-update", {"serviceId": "id-recognition", "status": "down"}, ["system-status"])
        assert (await browser.next("status-update"))["status"] == "down"
        await publisher.close()
        await browser.sio.disconnect()
    finally:
        api.terminate()
        api.wait(timeout=20)


async def test_incident_updated_says_what_changed_for_a_field_edit_and_a_deletion(staff, server):
    """A field edit has no timeline entry and a deletion no incident left: the event still says what
    changed (issue 14: both used to arrive as `update: None` with nothing else to go on)."""
    anon = await Client().connect(server)
    await anon.join("incidents")
    r = await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    incident = r.json()["incident"]
    await anon.next("incident-created")
    r = await staff.client.put(
        f"/api/incidents/{incident['id']}",
        headers=await staff.headers("reporter"),
        json={"priority": "P1", "title": "전면 장애", "version": incident["version"]},
    )
    assert r.status_code == 200
    edit = await anon.next("incident-updated")
    assert edit["update"] is None and edit["deleted"] is False and edit["seq"]
    assert edit["changes"] == {"priority": {"from": "P2", "to": "P1"}, "title": {"from": "지연", "to": "전면 장애"}}
    assert edit["incident"]["priority"] == "P1" and edit["incident"]["version"] == incident["version"] + 1
    r = await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=await staff.headers("reporter"),
        json={"status": "identified", "description": "found it", "version": incident["version"] + 1},
    )
    note = await anon.next("incident-updated")
    assert note["changes"] == {"status": {"from": "investigating", "to": "identified"}}
    assert note["update"]["status"] == "identified"
    assert (
        await staff.client.delete(f"/api/incidents/{incident['id']}", headers=await staff.headers("admin"))
    ).status_code == 200
    gone = await anon.next("incident-updated")
    assert gone["deleted"] is True and gone["incidentId"] == incident["id"] and gone["changes"] == {}
    assert gone["incident"]["id"] == incident["id"] and gone["incident"]["title"] == "전면 장애"
    assert gone["incident"]["affectedServices"] == ["id-recognition"] and gone["update"] is None
    await anon.sio.disconnect()


async def test_every_event_carries_a_seq(staff, server):
    """Published events and the socket handlers' own (presence, editing, drafts, session end) alike;
    the handlers' own are not replayed (stale once missed)."""
    r = await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    incident = r.json()["incident"]
    room = f"incident:{incident['id']}"
    carol = await staff.login("reporter", "carol")
    alice = await Client().connect(server, await token(staff, "reporter", "alice"))
    tab = await Client().connect(server, carol["accessToken"])
    bob = await Client().connect(server, carol["accessToken"])
    since = (await alice.join(room))["seq"]
    await alice.join("incidents")
    assert (await bob.join(room))["ok"]
    await alice.next("user-joined")
    await bob.sio.call("incident-editing", {"incidentId": incident["id"], "field": "title", "isEditing": True})
    await alice.next("incident-editing")
    await tab.sio.call("auto-save", {"incidentId": "new", "data": {"title": "draft"}})
    await bob.next("auto-save")
    await staff.client.post(
        f"/api/incidents/{incident['id']}/comments", headers=await staff.headers("reporter"), json={"message": "hi"}
    )
    await alice.next("incident-comment")
    await staff.client.put(
        f"/api/users/{carol['user']['id']}", json={"role": "viewer"}, headers=await staff.headers("admin")
    )
    await bob.next("session-ended")
    assert await bob.disconnected()
    await alice.next("user-left")
    names = set()
    for client in (alice, tab, bob):
        for name, data in client.received:
            names.add(name)
            assert isinstance(data, dict) and data.get("seq"), (name, data)
    assert {"user-joined", "incident-editing", "auto-save", "incident-comment", "session-ended", "user-left"} <= names
    replay = await staff.client.get(
        "/api/realtime/replay", params={"since": since, "room": room}, headers=await staff.headers("reporter")
    )
    assert [e["event"] for e in replay.json()["events"]] == ["incident-comment"]
    await alice.sio.disconnect()
