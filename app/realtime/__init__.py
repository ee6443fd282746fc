"""Socket.IO beside FastAPI (PRD §5.2), fanned out through Redis so that probers, workers and any number
of API processes emit to the same rooms.

- Public rooms `system-status`, `uptime`, `incidents`, `slo` are read-only and need no token.
- Collaboration rooms `incident:{id}` need a signed-in token (same JWT as REST, sent as
  `auth={"token": ...}` on connect or `?token=`): presence (`user-joined` / `user-left`), who edits
  which field (`incident-editing`, cleared when a socket drops), comments, and `auto-save` drafts.
  Viewers join read-only (they receive everything and appear in presence with their role); saying
  which field one edits and drafts need a reporter or admin.
- Every event goes through `Publisher` (app/realtime/publisher.py): appended to a capped Redis stream
  whose id is the event's `seq`, the socket handlers' own events included (Hub.emit). A client that
  reconnects asks `GET /api/realtime/replay?since=<seq>` for what it missed (`complete: false` when
  the stream no longer reaches back that far); the handlers' own events (presence, editing, drafts,
  session end) are left out of replay, being stale once missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, cast
from urllib.parse import parse_qs

import asyncpg
import socketio
from fastapi import APIRouter, FastAPI, Request
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import permissions
from app.auth.service import authenticate
from app.config import Settings
from app.errors import ApiError
from app.formatting import utc_iso
from app.realtime.publisher import FanOutManager, Publisher, channel_for

log = logging.getLogger(__name__)

# `slo`: the SLO events (sla-metrics-updated, slo-definition-violation), a room of their own so that a
# status page (system-status, uptime, incidents) does not receive every service's SLO report each minute.
PUBLIC_ROOMS = ("system-status", "uptime", "incidents", "slo")
INCIDENT_ROOM_PREFIX = "incident:"
SESSION_RECHECK_S = 30  # socket activity re-validates (and keeps alive) its login at most this often
SERVER_TTL_S = 30  # presence of a process that stopped renewing this long ago is dropped
ACK_GRACE_S = 0.2  # a socket refused mid-call is dropped this long after its answer
# A socket's session (python-socketio keeps it as a dict): {"user", "rooms", "token", "checked_at"}; and
# what a handler answers the client's call with.
Session = dict[str, Any]
Ack = dict[str, Any]


def incident_room(incident_id: str) -> str:
    return INCIDENT_ROOM_PREFIX + incident_id


def may_read_incident_rooms(role: str) -> bool:
    """Anyone who may read incidents follows an incident room (comments, updates, presence, with their
    role shown as PRD §5.2 `user-joined` allows); saying what one edits needs incidents:collaborate."""
    return permissions.allows(role, "incidents:read")


class Hub:
    """The Socket.IO server of one API process, with its publisher and session bookkeeping."""

    def __init__(self, settings: Settings, pool: Callable[[], asyncpg.Pool]) -> None:
        self.settings = settings
        self._pool = pool
        self.channel = channel_for(settings)
        self.manager = FanOutManager(settings.redis_url, channel=self.channel)
        # Same-origin only unless origins are configured (the consoles on other ports need them listed).
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=self.manager,
            cors_allowed_origins=settings.cors_origins or None,
            max_http_buffer_size=256 * 1024,
        )
        self.publisher = Publisher(settings.redis_url, self.channel, manager=self.manager)
        self.redis = self.publisher.redis
        # Presence entries name the process holding the socket; a process that dies (no clean
        # disconnects) stops renewing its key, and its entries are dropped when next read.
        self.server_id = uuid.uuid4().hex
        self._alive_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._register()

    async def publish(self, event: str, data: dict[str, Any], rooms: list[str]) -> str | None:
        """Emit after a commit; a Redis outage is logged, never turned into a failed write."""
        try:
            return await self.publisher.publish(event, data, rooms)
        except Exception:
            log.exception("realtime: could not publish %s", event)
            return None

    async def emit(self, event: str, data: dict[str, Any], room: str, skip_sid: str | None = None) -> str:
        """The socket handlers' own events (presence, editing, drafts, session end) go the same way as
        published ones, so every event a client receives carries a `seq`; replay leaves them out (stale
        once missed: a client that re-joins gets the room's members in the join's answer)."""
        return await self.publisher.publish(event, data, [room], skip_sid=skip_sid, replayed=False)

    # -- revocation: a user's or a session's sockets, on whichever process holds them --
    async def disconnect_user(self, user_id: str) -> None:
        await self._disconnect_set(f"{self.channel}:sids:user:{user_id}", "account changed")

    async def disconnect_session(self, session_id: str) -> None:
        await self._disconnect_set(f"{self.channel}:sids:session:{session_id}", "signed out")

    async def _disconnect_set(self, key: str, reason: str) -> None:
        try:
            sids = [s.decode() for s in await self.redis.smembers(key)]
            for sid in sids:
                await self.emit("session-ended", {"reason": reason}, sid)
                await self.sio.disconnect(sid)
            await self.redis.delete(key)
        except Exception:
            log.exception("realtime: could not disconnect sockets of %s", key)

    # -- Socket.IO handlers --
    def _register(self) -> None:
        sio = self.sio
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("join-room", self.on_join)
        sio.on("leave-room", self.on_leave)
        sio.on("incident-editing", self.on_editing)
        sio.on("auto-save", self.on_auto_save)

    # -- process liveness, for presence --
    def _server_key(self, server_id: str) -> str:
        return f"{self.channel}:server:{server_id}"

    async def _stay_alive(self) -> None:
        while True:
            try:
                await self.redis.set(self._server_key(self.server_id), "1", ex=SERVER_TTL_S)
            except Exception:
                log.warning("realtime: could not renew this process's presence key", exc_info=True)
            await asyncio.sleep(SERVER_TTL_S / 3)

    async def _ensure_alive(self) -> None:
        if self._alive_task is None or self._alive_task.done():
            await self.redis.set(self._server_key(self.server_id), "1", ex=SERVER_TTL_S)
            self._alive_task = asyncio.create_task(self._stay_alive(), name="realtime-alive")

    async def _members(self, room: str) -> list[dict[str, str]]:
        """Who is in an incident room; entries of processes that died are removed and announced."""
        presence = f"{self.channel}:presence:{room}"
        entries = {sid.decode(): json.loads(value) for sid, value in (await self.redis.hgetall(presence)).items()}
        servers = sorted({e.get("server", "") for e in entries.values()})
        alive = dict(zip(servers, await self.redis.mget([self._server_key(s) for s in servers]))) if servers else {}
        members = []
        for sid, entry in entries.items():
            if alive.get(entry.get("server", "")) is None:
                await self.redis.hdel(presence, sid)
                await self.emit("user-left", {"room": room, "userId": entry["id"], "userName": entry["name"]}, room)
            else:
                members.append({k: entry[k] for k in ("id", "name", "role")})
        return members

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)  # a strong reference until done
        task.add_done_callback(self._background.discard)

    async def _signed_in(self, sid: str, session: Session) -> bool:
        """Socket activity is activity: it restarts the login's idle clock (as REST calls do), and a
        login that has ended (revoked, idle for 2 h, token expired) ends the socket."""
        if session.get("user") is None:
            return False
        if time.monotonic() - session.get("checked_at", 0.0) < SESSION_RECHECK_S:
            return True
        try:
            async with self._pool().acquire() as proxy:
                conn = cast(asyncpg.Connection, proxy)
                await authenticate(conn, self.settings.resolved_secret_key(), session.get("token") or "")
        except ApiError as exc:
            await self.emit("session-ended", {"reason": exc.message}, sid)
            # disconnect once the handler's answer (the ack the client waits for) has gone out
            asyncio.get_running_loop().call_later(ACK_GRACE_S, self._spawn, self.sio.disconnect(sid))
            return False
        session["checked_at"] = time.monotonic()
        await self.sio.save_session(sid, session)
        return True

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        token = token or (parse_qs(environ.get("QUERY_STRING", "")).get("token") or [None])[0]
        user = None
        if token:
            token = token.removeprefix("Bearer ").strip()
            try:
                async with self._pool().acquire() as proxy:
                    conn = cast(asyncpg.Connection, proxy)
                    principal = await authenticate(
                        conn,
                        self.settings.resolved_secret_key(),
                        token,
                        (environ.get("asgi.scope", {}).get("client") or ("",))[0],
                    )
            except ApiError as exc:
                raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
            user = {
                "id": principal.user_id,
                "name": principal.username,
                "role": principal.role,
                "sessionId": principal.session_id,
            }
            await self.redis.sadd(f"{self.channel}:sids:user:{principal.user_id}", sid)
            await self.redis.sadd(f"{self.channel}:sids:session:{principal.session_id}", sid)
            await self.sio.enter_room(sid, f"user:{principal.user_id}")
            await self._ensure_alive()
        # checked_at 0: the first collaboration event re-validates the login and restarts its idle clock
        await self.sio.save_session(sid, {"user": user, "rooms": {}, "token": token, "checked_at": 0.0})

    async def on_disconnect(self, sid: str, reason: object = None) -> None:
        session = await self.sio.get_session(sid)
        for room in list(session.get("rooms", {})):
            await self._leave(sid, session, room)
        user = session.get("user")
        if user:
            await self.redis.srem(f"{self.channel}:sids:user:{user['id']}", sid)
            await self.redis.srem(f"{self.channel}:sids:session:{user['sessionId']}", sid)

    async def on_join(self, sid: str, data: object) -> Ack:
        room = data.get("room") if isinstance(data, dict) else None
        if not isinstance(room, str) or len(room) > 120:
            return {"ok": False, "error": "invalid_room"}
        seq = await self.publisher.latest_seq()
        if room in PUBLIC_ROOMS:
            await self.sio.enter_room(sid, room)
            return {"ok": True, "room": room, "seq": seq}
        if not room.startswith(INCIDENT_ROOM_PREFIX):
            return {"ok": False, "error": "unknown_room"}
        session = await self.sio.get_session(sid)
        user = session.get("user")
        if user is None or not await self._signed_in(sid, session):
            return {"ok": False, "error": "unauthorized"}
        if not may_read_incident_rooms(user["role"]):
            return {"ok": False, "error": "forbidden"}
        incident_id = room[len(INCIDENT_ROOM_PREFIX) :]
        async with self._pool().acquire() as conn:
            if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)", incident_id):
                return {"ok": False, "error": "not_found"}
        await self.sio.enter_room(sid, room)
        session["rooms"][room] = None
        await self.sio.save_session(sid, session)
        public_user = {"id": user["id"], "name": user["name"], "role": user["role"]}
        presence = f"{self.channel}:presence:{room}"
        await self.redis.hset(presence, sid, json.dumps({**public_user, "server": self.server_id}))
        members = await self._members(room)
        await self.emit("user-joined", {"room": room, "user": public_user}, room, skip_sid=sid)
        return {"ok": True, "room": room, "seq": seq, "members": members}

    async def on_leave(self, sid: str, data: object) -> Ack:
        room = data.get("room") if isinstance(data, dict) else None
        if not isinstance(room, str):
            return {"ok": False, "error": "invalid_room"}
        session = await self.sio.get_session(sid)
        if room in session.get("rooms", {}):
            await self._leave(sid, session, room)
            await self.sio.save_session(sid, session)
        await self.sio.leave_room(sid, room)
        return {"ok": True, "room": room}

    async def _leave(self, sid: str, session: Session, room: str) -> None:
        user = session["user"]
        field = session["rooms"].pop(room, None)
        incident_id = room[len(INCIDENT_ROOM_PREFIX) :]
        if field is not None:
            await self.emit(
                "incident-editing",
                {
                    "incidentId": incident_id,
                    "userId": user["id"],
                    "userName": user["name"],
                    "isEditing": False,
                    "field": field,
                },
                room,
                skip_sid=sid,
            )
        await self.redis.hdel(f"{self.channel}:presence:{room}", sid)
        await self.emit("user-left", {"room": room, "userId": user["id"], "userName": user["name"]}, room, skip_sid=sid)
        await self.sio.leave_room(sid, room)

    async def on_editing(self, sid: str, data: object) -> Ack:
        if not isinstance(data, dict) or not isinstance(data.get("incidentId"), str):
            return {"ok": False, "error": "invalid"}
        room = incident_room(data["incidentId"])
        session = await self.sio.get_session(sid)
        if room not in session.get("rooms", {}):
            return {"ok": False, "error": "join the incident room first"}
        if not permissions.allows(session["user"]["role"], "incidents:collaborate"):
            return {"ok": False, "error": "forbidden"}  # viewers follow the room read-only
        if not await self._signed_in(sid, session):
            return {"ok": False, "error": "unauthorized"}
        field = data.get("field")
        field = field[:64] if isinstance(field, str) else ""
        editing = bool(data.get("isEditing", True))
        session["rooms"][room] = field if editing else None
        await self.sio.save_session(sid, session)
        user = session["user"]
        await self.emit(
            "incident-editing",
            {
                "incidentId": data["incidentId"],
                "userId": user["id"],
                "userName": user["name"],
                "isEditing": editing,
                "field": field,
            },
            room,
            skip_sid=sid,
        )
        return {"ok": True}

    async def on_auto_save(self, sid: str, data: object) -> Ack:
        from app.incidents import collaboration

        session = await self.sio.get_session(sid)
        user = session.get("user")
        if user is None or not permissions.allows(user["role"], "incidents:draft"):
            return {"ok": False, "error": "forbidden"}
        if not await self._signed_in(sid, session):
            return {"ok": False, "error": "unauthorized"}
        if not isinstance(data, dict) or not isinstance(data.get("incidentId"), str):
            return {"ok": False, "error": "invalid"}
        try:
            async with self._pool().acquire() as proxy:
                conn = cast(asyncpg.Connection, proxy)
                draft = await collaboration.save_draft(conn, user["id"], data["incidentId"], data.get("data"))
        except ValidationError as exc:
            return {
                "ok": False,
                "error": "validation_error",
                "details": exc.errors(include_url=False, include_context=False),
            }
        except ApiError as exc:
            return {"ok": False, "error": exc.error, "message": exc.message}
        saved_at = utc_iso(draft.updated_at)
        event = {"incidentId": data["incidentId"], "data": draft.data, "timestamp": saved_at}
        await self.emit("auto-save", event, f"user:{user['id']}", skip_sid=sid)
        return {"ok": True, "timestamp": saved_at}

    async def close(self) -> None:
        if self._alive_task is not None:
            self._alive_task.cancel()
            try:
                await self.redis.delete(self._server_key(self.server_id))
            except Exception:
                log.warning("realtime: could not remove this process's presence key", exc_info=True)
        await self.publisher.close()


def hub(request: Request) -> Hub:
    realtime: Hub = request.app.state.realtime
    return realtime


class SocketIOMiddleware:
    """ASGI middleware: /socket.io/ goes to Socket.IO, everything else on through the FastAPI stack.
    (socketio.ASGIApp(sio, other_asgi_app=...) placed inside FastAPI, so create_app still returns the
    FastAPI app with its state and dependency overrides.)"""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.socketio_app = socketio.ASGIApp(hub.sio, socketio_path="socket.io")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].startswith("/socket.io/"):
            await self.socketio_app(scope, receive, send)
            return
        await self.app(scope, receive, send)


def mount(fastapi_app: FastAPI, settings: Settings) -> Hub:
    """Create the process's hub and route /socket.io/ to it."""
    realtime = Hub(settings, lambda: fastapi_app.state.pool)
    fastapi_app.state.realtime = realtime
    fastapi_app.add_middleware(SocketIOMiddleware, hub=realtime)
    return realtime


MAX_STREAM_ID_PART = 2**64 - 1


def replay_router() -> APIRouter:
    """GET /api/realtime/replay: what a reconnecting client missed. Public rooms need no token;
    `incident:{id}` rooms need the token of someone who may join them."""
    from fastapi import Depends, Query
    from fastapi.security import HTTPAuthorizationCredentials

    from app import deps
    from app.auth.deps import bearer
    from app.auth.service import unauthorized
    from app.contract import errors
    from app.realtime.models import Replay

    router = APIRouter(tags=["realtime"])

    @router.get(
        "/api/realtime/replay",
        response_model=Replay,
        # 401/403: only for incident rooms, which need a token of someone who may join them
        responses=errors(401, 403),
        summary="Events after a seq, for rooms (default: the public rooms)",
    )
    async def replay(
        request: Request,
        since: str = Query("0-0", pattern=r"^\d{1,20}(-\d{1,20})?$"),
        room: list[str] = Query(list(PUBLIC_ROOMS), max_length=20),
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
        conn: asyncpg.Connection = Depends(deps.connection),
    ) -> Replay:
        ms, _, seq = since.partition("-")
        if int(ms) > MAX_STREAM_ID_PART or int(seq or 0) > MAX_STREAM_ID_PART:
            # Redis stream ids are two unsigned 64-bit numbers; a larger one is the client's mistake.
            raise ApiError(
                422,
                "validation_error",
                "invalid query.since: stream id part over 2^64-1",
                [{"in": "query", "field": "since", "message": "each part must be at most 2^64-1"}],
            )
        if int(ms) == MAX_STREAM_ID_PART and int(seq or 0) == MAX_STREAM_ID_PART:
            # the largest id: no event can follow it (and Redis refuses a range starting after it)
            raise ApiError(
                422,
                "validation_error",
                "invalid query.since: no stream id follows it",
                [{"in": "query", "field": "since", "message": "must be below the largest stream id"}],
            )
        private = [r for r in room if r not in PUBLIC_ROOMS]
        for r in private:
            if not r.startswith(INCIDENT_ROOM_PREFIX) or len(r) > 120:
                raise ApiError(422, "validation_error", f"unknown room {r!r}")
        if private:
            if credentials is None:
                raise unauthorized("incident rooms need an access token")
            principal = await authenticate(
                conn, request.app.state.settings.resolved_secret_key(), credentials.credentials
            )
            if not may_read_incident_rooms(principal.role):
                raise ApiError(403, "forbidden", f"role {principal.role!r} may not read incident rooms")
        return await hub(request).publisher.replay(since, set(room))

    return router
