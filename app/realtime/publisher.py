"""The realtime bus any process writes to: events emitted to Socket.IO rooms through Redis (so probers,
workers and every API process reach the same sockets) and recorded in a capped Redis stream for replay
(an event's stream id is its `seq`). The API processes' own fan-out to their sockets lives here too.
"""

from __future__ import annotations

import gc
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from app.config import Settings
from app.realtime.models import Replay, ReplayedEvent

log = logging.getLogger(__name__)

STREAM_MAXLEN = 10_000
REPLAY_LIMIT = 1_000
GC_YOUNG_THRESHOLD = 50_000  # see tune_gc_for_fan_out


def channel_for(settings: Settings) -> str:
    """Redis channel and key prefix: one per deployment (its database), so test sessions never cross."""
    if settings.realtime_channel:
        return settings.realtime_channel
    database = urlsplit(settings.database_url).path.lstrip("/") or "slamon"
    return f"slamon:{database}"


def tune_gc_for_fan_out() -> None:
    """For an API process, before it serves: one event to 1,000 sockets briefly holds thousands of
    tasks and futures, which with the default young-generation threshold (700) set off ~8 collections
    per event, now and then a full one stopping the loop for ~300 ms (benchmarks/README.md, Realtime);
    an uncached status read (~10,000 containers at its peak) set off two, ~0.6 ms of its ~9 ms.
    A higher threshold lets that transient garbage die uncollected; freezing what exists at start-up
    (modules, the app) keeps the full collections that still happen short."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


class _SequentialFanOut(socketio.AsyncManager):  # type: ignore[misc]  # python-socketio ships no types
    """A room emit to this process's sockets as one loop, not one task per recipient.

    `AsyncManager.emit` starts a task per recipient and waits for them all, but a send only puts the
    packet on the socket's queue (its writer task does the writing). At 1,000 sockets the tasks cost
    ~10 % of the fan-out's CPU and held the emit (and the request that made it, and the hand-over to
    other processes through Redis) for 40-70 ms instead of ~11 ms (benchmarks/README.md, Realtime).
    Emits with an ack callback (a different packet per recipient) keep the library's path.
    """

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: str | list[str] | None = None,
        skip_sid: str | list[str] | None = None,
        callback: Any = None,
        to: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is not None or namespace not in self.rooms:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
            return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        frames = [
            eio_packet.Packet(eio_packet.MESSAGE, p) for p in (encoded if isinstance(encoded, list) else [encoded])
        ]
        for sid, eio_sid in self.get_participants(namespace, room):  # a copy: rooms may change meanwhile
            if sid in skip:
                continue
            for frame in frames:
                try:
                    await self.server.eio.send_packet(eio_sid, frame)
                except Exception:  # a socket closing meanwhile; the others still get the event
                    log.debug("realtime: could not send %s to %s", event, sid, exc_info=True)
                    break


class FanOutManager(socketio.AsyncRedisManager, _SequentialFanOut):  # type: ignore[misc]  # as above
    """Redis fan-out between processes; after AsyncPubSubManager in the method order, _SequentialFanOut
    delivers both this process's emits and those arriving from Redis to the local sockets."""


class Publisher:
    """Emit an event to rooms through Redis and record it for replay; usable from any process."""

    def __init__(self, redis_url: str, channel: str, manager: socketio.AsyncManager | None = None) -> None:
        self.channel = channel
        self.stream_key = f"{channel}:events"
        # Any: redis-py leaves from_url unannotated, and its async commands are typed `Awaitable[T] | T`
        self.redis = aioredis.from_url(redis_url)  # type: ignore[no-untyped-call]
        self.manager = manager or socketio.AsyncRedisManager(redis_url, channel=channel, write_only=True)

    async def publish(
        self, event: str, data: dict[str, Any], rooms: list[str], skip_sid: str | None = None, replayed: bool = True
    ) -> str:
        """Append to the stream, then emit with `seq` added (to every socket in `rooms` but `skip_sid`);
        returns the seq. `replayed=False` for what is stale once missed (presence, who edits, drafts, a
        session's end): it takes its place in the seq order but replay leaves it out."""
        fields = {"e": event, "r": json.dumps(rooms), "d": json.dumps(data, default=str, ensure_ascii=False)}
        if not replayed:
            fields["x"] = "1"
        entry_id: bytes = await self.redis.xadd(self.stream_key, fields, maxlen=STREAM_MAXLEN, approximate=True)
        seq = entry_id.decode()
        await self.manager.emit(event, {**data, "seq": seq}, namespace="/", room=rooms, skip_sid=skip_sid)
        return seq

    async def retire(self, key: str, seqs: list[str], keep: int) -> None:
        """Bound what bulky, repeated events (a sweep's: workers/slo.py) hold of the stream: remember
        `seqs` (one publication) under `key` and delete the entries of all but the newest `keep`
        publications. Replay then reports `complete: false` to a client whose `since` is older than
        a deleted entry, as for trimmed ones (it re-fetches what it shows)."""
        if not seqs:
            return
        name = f"{self.channel}:{key}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(name, ",".join(seqs))
            pipe.lrange(name, keep, -1)
            pipe.ltrim(name, 0, keep - 1)
            _, old, _ = await pipe.execute()
        expired = [seq for entry in old for seq in entry.decode().split(",")]
        if expired:
            await self.redis.xdel(self.stream_key, *expired)

    async def latest_seq(self) -> str:
        info = await self.redis.xinfo_stream(self.stream_key) if await self.redis.exists(self.stream_key) else None
        latest: str = info["last-generated-id"].decode() if info else "0-0"
        return latest

    async def replay(self, since: str, rooms: set[str]) -> Replay:
        """Events after `since` addressed to any of `rooms`, oldest first."""
        events: list[ReplayedEvent] = []
        complete, latest = True, "0-0"
        if await self.redis.exists(self.stream_key):
            info = await self.redis.xinfo_stream(self.stream_key)
            latest = info["last-generated-id"].decode()
            trimmed = info.get("max-deleted-entry-id", b"0-0").decode()
            complete = _seq_key(since) >= _seq_key(trimmed)
            for entry_id, fields in await self.redis.xrange(self.stream_key, min=f"({since}", count=REPLAY_LIMIT):
                entry_rooms = json.loads(fields[b"r"])
                if b"x" not in fields and rooms.intersection(entry_rooms):
                    events.append(
                        ReplayedEvent(
                            seq=entry_id.decode(),
                            event=fields[b"e"].decode(),
                            rooms=entry_rooms,
                            data={**json.loads(fields[b"d"]), "seq": entry_id.decode()},
                        )
                    )
            if events and len(events) >= REPLAY_LIMIT:
                complete = False
        return Replay(events=events, latest=latest, complete=complete)

    async def close(self) -> None:
        await self.redis.aclose()


def _seq_key(seq: str) -> tuple[int, int]:
    ms, _, n = seq.partition("-")
    return int(ms), int(n or 0)
