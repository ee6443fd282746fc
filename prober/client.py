"""Shared client state of the probes: the SSRF-guarded sessions of app/net/http.py, with phase timing.

Every connection is fresh (force_close): a check measures DNS, connect and TLS each time, as
blackbox_exporter does. Concurrency is bounded by the scheduler, not by the connector.
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
import time
from types import SimpleNamespace
from typing import Any

import aiohappyeyeballs
import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.client_exceptions import cert_errors, ssl_errors
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.helpers import ceil_timeout

from app.net.http import GuardedSessions

# The phase dict of the check running in the current task (set by the probe, read by the connector).
current_phases: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("phases", default=None)


def mark(phases: dict[str, Any] | None, phase: str) -> None:
    """Record that a check entered `phase` (used to say where a timeout struck)."""
    if phases is not None:
        phases["_phase"] = phase


class TimedConnector(aiohttp.TCPConnector):
    """TCPConnector that times TCP connect and TLS handshake separately and reads the certificate expiry.

    Mirrors aiohttp's own `_wrap_create_connection` (3.10+), split in two awaits."""

    async def _wrap_create_connection(
        self,
        *args: Any,
        addr_infos: list[AddrInfoType],
        req: ClientRequest,
        timeout: aiohttp.ClientTimeout,
        client_error: type[Exception] = aiohttp.ClientConnectorError,
        **kwargs: Any,
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        phases = current_phases.get()
        try:
            async with ceil_timeout(timeout.sock_connect, ceil_threshold=timeout.ceil_threshold):
                mark(phases, "connect")
                started = time.perf_counter()
                sock = await aiohappyeyeballs.start_connection(
                    addr_infos=addr_infos,
                    local_addr_infos=self._local_addr_infos,
                    happy_eyeballs_delay=self._happy_eyeballs_delay,
                    interleave=self._interleave,
                    loop=self._loop,
                    socket_factory=self._socket_factory,
                )
                connected = time.perf_counter()
                if phases is not None:
                    phases["connect"] = (connected - started) * 1000
                    if kwargs.get("ssl"):
                        mark(phases, "tls")
                transport, protocol = await self._loop.create_connection(*args, **kwargs, sock=sock)
                if phases is not None and kwargs.get("ssl"):
                    phases["tls"] = (time.perf_counter() - connected) * 1000
                    _record_cert_expiry(phases, transport)
                return transport, protocol
        except cert_errors as exc:
            raise aiohttp.ClientConnectorCertificateError(req.connection_key, exc) from exc
        except ssl_errors as exc:
            raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
        except OSError as exc:
            if exc.errno is None and isinstance(exc, TimeoutError):
                raise
            raise client_error(req.connection_key, exc) from exc


def _record_cert_expiry(phases: dict[str, Any], transport: asyncio.Transport) -> None:
    cert = transport.get_extra_info("peercert")  # populated only when the certificate was verified
    if cert and cert.get("notAfter"):
        phases["_cert_not_after"] = ssl.cert_time_to_seconds(cert["notAfter"])


def _trace_config() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def dns_start(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceDnsResolveHostStartParams
    ) -> None:
        mark(current_phases.get(), "dns")
        ctx.dns_started = time.perf_counter()

    async def dns_end(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceDnsResolveHostEndParams
    ) -> None:
        phases = current_phases.get()
        if phases is not None and hasattr(ctx, "dns_started"):
            phases["dns"] = (time.perf_counter() - ctx.dns_started) * 1000

    async def dns_cache_hit(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceDnsCacheHitParams
    ) -> None:
        phases = current_phases.get()
        if phases is not None:
            phases["dns"] = 0.0

    async def headers_sent(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestHeadersSentParams
    ) -> None:
        mark(current_phases.get(), "first_byte")

    trace.on_dns_resolvehost_start.append(dns_start)
    trace.on_dns_resolvehost_end.append(dns_end)
    trace.on_dns_cache_hit.append(dns_cache_hit)
    trace.on_request_headers_sent.append(headers_sent)
    return trace


class ProbeContext(GuardedSessions):
    """The prober's guarded sessions (app/net/http.py) with each phase of a check timed."""

    connector_class = TimedConnector

    def __init__(self, user_agent: str = "slamon-prober/0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(user_agent, ssl_context)

    def trace_configs(self) -> list[aiohttp.TraceConfig]:
        return [_trace_config()]
