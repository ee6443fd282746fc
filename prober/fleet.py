"""Fleet membership through heartbeats in PostgreSQL (`prober_heartbeats`).

Each beat, in one transaction under a per-region advisory lock: renew this prober's row, or
re-register it when it lapsed and another prober may since have taken its slots over (then it
becomes eligible only `handover_delay_s` later, after every member has seen it); then read the
region's members. The resulting `View` decides slot ownership (prober/rendezvous.py).

While the database is unreachable the last view stays in force, so a region keeps checking
through a database outage (results go to the spool). If only this prober was cut off, a
survivor may check the same slots meanwhile; the ingest's idempotency on (service, region, ts)
keeps one of them when the spool is replayed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import datetime, timezone

import asyncpg

from prober import queries
from prober.rendezvous import Member, View

log = logging.getLogger(__name__)
MEMBER_MEMORY_S = 600  # expired members stay in the view this long (they still own their earlier slots)


class Fleet:
    def __init__(
        self,
        database_url: str,
        region: str,
        prober_id: str,
        *,
        heartbeat_s: float = 5.0,
        ttl_s: float = 15.0,
        handover_delay_s: float | None = None,
    ):
        self.database_url = database_url
        self.region = region
        self.prober_id = prober_id
        self.heartbeat_s = heartbeat_s
        self.ttl_s = ttl_s
        self.handover_delay_s = handover_delay_s if handover_delay_s is not None else 2 * heartbeat_s
        self.view: View | None = None
        self.connected = False
        self.last_error: str | None = None
        self.assigned_services = 0
        self._conn: asyncpg.Connection | None = None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self.database_url,
                timeout=max(self.heartbeat_s, 2.0),
                server_settings={"application_name": f"slamon-prober:{self.prober_id}"},
            )
        return self._conn

    async def beat(self) -> View | None:
        """Renew membership and refresh the view; on a database error keep the last view and return None."""
        try:
            conn = await self._connection()
            async with conn.transaction():
                await conn.execute(queries.LOCK_REGION, self.region)
                await self._renew_or_register(conn)
                rows = await conn.fetch(queries.MEMBERS, self.region, MEMBER_MEMORY_S)
                await conn.execute(queries.FORGET_OLD, self.region)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            await self._drop_connection()
            if self.connected or self.last_error is None:
                log.warning(
                    "heartbeat failed, keeping the last assignment: %s",
                    exc,
                    extra={"region": self.region, "job": "heartbeat"},
                )
            self.connected, self.last_error = False, f"database unreachable: {exc}"[:300]
            return None
        if not self.connected:
            log.info("heartbeat ok", extra={"region": self.region, "job": "heartbeat"})
        self.connected, self.last_error = True, None
        members = tuple(Member(r["prober_id"], r["active_from"], r["expires_at"]) for r in rows)
        self.view = View(members, rows[0]["db_now"] if rows else time.time())
        return self.view

    async def _renew_or_register(self, conn: asyncpg.Connection) -> None:
        mine = await conn.fetchrow(queries.MINE, self.prober_id, self.region)
        if mine is not None and (mine["expires_at"] > mine["db_now"] or not mine["superseded"]):
            await conn.execute(queries.RENEW, self.prober_id, self.ttl_s, self.assigned_services)
            return
        others_live = await conn.fetchval(queries.OTHERS_LIVE, self.region, self.prober_id)
        delay = self.handover_delay_s if others_live else 0.0
        await conn.execute(
            queries.REGISTER,
            self.prober_id,
            self.region,
            socket.gethostname(),
            os.getpid(),
            delay,
            self.ttl_s,
            self.assigned_services,
        )
        log.info("joined region (eligible in %.1f s)", delay, extra={"region": self.region, "job": "heartbeat"})

    async def checked_slots(self, pairs: list[tuple[str, float]]) -> set[tuple[str, float]]:
        """Which (service_id, slot) pairs this region already has results for; raises on database errors."""
        conn = await self._connection()
        rows = await conn.fetch(
            queries.CHECKED_SLOTS,
            self.region,
            [p[0] for p in pairs],
            [datetime.fromtimestamp(p[1], timezone.utc) for p in pairs],
        )
        return {(r["service_id"], r["slot"]) for r in rows}

    async def record_certificates(self, seen: dict[str, tuple[float, float]]) -> None:
        """Store certificate expiries: service_id -> (not_after, checked_at), epoch seconds; raises on
        database errors (the caller keeps them for the next heartbeat)."""
        conn = await self._connection()
        ids = list(seen)
        await conn.execute(
            queries.RECORD_CERTIFICATES,
            self.region,
            ids,
            [datetime.fromtimestamp(seen[s][0], timezone.utc) for s in ids],
            [datetime.fromtimestamp(seen[s][1], timezone.utc) for s in ids],
        )

    async def stop(self) -> None:
        """Leave the region now (the caller has stopped scheduling), so others take over at once."""
        try:
            conn = await self._connection()
            await conn.execute(queries.STOP, self.prober_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("could not deregister: %s", exc, extra={"region": self.region, "job": "heartbeat"})
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                async with asyncio.timeout(2):
                    await conn.close()
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()
