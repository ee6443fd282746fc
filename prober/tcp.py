"""TCP check: the target is up when a connection to tcp://host:port opens within the timeout.
Same signature as every probe; the address is resolved and filtered by the SSRF guard first."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from app.net import ssrf
from prober.client import ProbeContext, mark
from prober.errors import classify
from prober.http import finish
from prober.models import ProbeResult, Target


async def probe(target: Target, ctx: ProbeContext, phases: dict[str, Any]) -> ProbeResult:
    """Open (and close) one TCP connection to the target."""
    phases.setdefault("_t0", time.perf_counter())
    try:
        parts = urlsplit(target.url)
        host, port = parts.hostname or "", parts.port
        if not port:
            raise ValueError(f"url {target.url!r} has no port")
    except ValueError as exc:
        return finish(ProbeResult.failure("connection_error", f"invalid URL: {exc}", 0), phases)
    blocked = ssrf.check_host(host, target.allow_private)
    if blocked:
        return finish(ProbeResult.failure("connection_error", blocked, _ms(phases)), phases)
    try:
        mark(phases, "dns")
        started = time.perf_counter()
        addresses = await ssrf.GuardedResolver(target.allow_private).resolve(host, port, socket.AF_UNSPEC)
        phases["dns"] = (time.perf_counter() - started) * 1000
        mark(phases, "connect")
        started = time.perf_counter()
        chosen = random.choice(addresses)
        _, writer = await asyncio.open_connection(chosen["host"], port)
        phases["connect"] = (time.perf_counter() - started) * 1000
        writer.close()
    except Exception as exc:  # a failing target is a result, never an exception
        error_type, message = classify(exc)
        return finish(ProbeResult.failure(error_type, message, _ms(phases)), phases)
    return finish(ProbeResult(ok=True, latency_ms=_ms(phases)), phases)


def _ms(phases: dict[str, Any]) -> int:
    return int((time.perf_counter() - phases["_t0"]) * 1000)
