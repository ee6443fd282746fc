"""SSRF-guarded aiohttp sessions, one per policy (loopback/private allowed or not), shared by every
request of a process: the prober's checks (prober/client.py adds phase timing) and the notification
worker's webhooks (app/notifications/senders.py).

The guard works on the address a connection actually uses (app/net/ssrf.py): the resolver drops
forbidden answers and the socket factory refuses a forbidden peer just before connect(). Every
connection is fresh (force_close), so a hostile receiver can never poison a pooled connection; no
environment proxy, no cookies, no transparent decompression, header lines capped.
"""

from __future__ import annotations

import ssl

import aiohttp

from app.net.ssrf import GuardedResolver, guarded_socket_factory

MAX_HEADER_BYTES = 16 * 1024


class GuardedSessions:
    """Long-lived SSRF-guarded sessions, created on first use; close() on shutdown.

    Subclasses choose the connector class and trace configs (the prober times each phase)."""

    connector_class: type[aiohttp.TCPConnector] = aiohttp.TCPConnector

    def __init__(self, user_agent: str, ssl_context: ssl.SSLContext | None = None) -> None:
        self.user_agent = user_agent
        # Verification context; None is the system trust store. A private CA goes here.
        self.ssl_context = ssl_context
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    def trace_configs(self) -> list[aiohttp.TraceConfig]:
        return []

    def session(self, allow_private: bool) -> aiohttp.ClientSession:
        existing = self._sessions.get(allow_private)
        if existing is not None and not existing.closed:
            return existing
        connector = self.connector_class(
            resolver=GuardedResolver(allow_private),
            socket_factory=guarded_socket_factory(allow_private),
            force_close=True,
            limit=0,
            ttl_dns_cache=10,
            ssl=self.ssl_context if self.ssl_context else True,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            auto_decompress=False,
            trace_configs=self.trace_configs(),
            timeout=aiohttp.ClientTimeout(total=None),
            headers={"User-Agent": self.user_agent},
            cookie_jar=aiohttp.DummyCookieJar(),
            max_line_size=MAX_HEADER_BYTES,
            max_field_size=MAX_HEADER_BYTES,
        )
        self._sessions[allow_private] = session
        return session

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
