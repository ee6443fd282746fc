"""Run one check of any kind under the caller's hard timeout: the single entry point of the scheduler."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from prober import http, tcp
from prober.client import ProbeContext
from prober.http import finish
from prober.models import ProbeResult, Target

Probe = Callable[[Target, ProbeContext, dict[str, Any]], Awaitable[ProbeResult]]
PROBES: dict[str, Probe] = {"http": http.probe, "tcp": tcp.probe}


async def run_check(target: Target, ctx: ProbeContext, timeout_s: float | None = None) -> ProbeResult:
    """One bounded check: DNS, connect, TLS, headers and body all count against one hard timeout."""
    timeout_s = timeout_s if timeout_s is not None else target.timeout_s
    probe = PROBES.get(target.kind)
    phases: dict[str, Any] = {"_t0": time.perf_counter()}
    if probe is None:
        return finish(ProbeResult.failure("connection_error", f"unknown check kind {target.kind!r}", 0), phases)
    try:
        async with asyncio.timeout(timeout_s):
            return await probe(target, ctx, phases)
    except TimeoutError:
        phase = phases.get("_phase", "connect")
        latency_ms = int((time.perf_counter() - phases["_t0"]) * 1000)
        message = f"no complete response within {timeout_s:g} s (timed out during {phase.replace('_', ' ')})"
        return finish(ProbeResult.failure("timeout", message, latency_ms), phases)
