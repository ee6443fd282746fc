"""HTTP(S) check: method, headers, body, expected status set, keyword / JSON-path assertions, TLS
verification and certificate expiry. Redirects are followed by hand (at most 5) so that the SSRF
guard sees every hop. Never raises for a failing target; the caller owns the hard timeout."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from app.net import ssrf
from app.services.conditions import CompiledCheck, compile_check
from prober.client import ProbeContext, current_phases, mark
from prober.errors import classify
from prober.models import ProbeResult, Target

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
READ_CHUNK = 64 * 1024


def _elapsed_ms(phases: dict[str, Any]) -> int:
    return int((time.perf_counter() - phases["_t0"]) * 1000)


def finish(result: ProbeResult, phases: dict[str, Any]) -> ProbeResult:
    """Copy the recorded phases (ms, rounded) and certificate expiry into the result."""
    result.phases_ms = {k: round(v, 1) for k, v in phases.items() if not k.startswith("_")}
    result.phases_ms["total"] = float(result.latency_ms)
    result.cert_expires_at = phases.get("_cert_not_after")
    return result


async def probe(target: Target, ctx: ProbeContext, phases: dict[str, Any]) -> ProbeResult:
    """Run one HTTP check of `target`; phases is filled as the check advances (dns, connect, tls, first_byte)."""
    phases.setdefault("_t0", time.perf_counter())
    token = current_phases.set(phases)
    try:
        return finish(await _probe(target, ctx, phases, compile_check(target.check)), phases)
    finally:
        current_phases.reset(token)


async def _probe(target: Target, ctx: ProbeContext, phases: dict[str, Any], check: CompiledCheck) -> ProbeResult:
    session = ctx.session(target.allow_private)
    method: str = target.check.method  # a redirect may turn it into GET
    body, url = target.check.body, target.url
    for _hop in range(MAX_REDIRECTS + 1):
        host = urlsplit(url).hostname or ""
        blocked = ssrf.check_host(host, target.allow_private)
        if blocked:
            return ProbeResult.failure("connection_error", blocked, _elapsed_ms(phases))
        try:
            outcome = await _exchange(session, target, check, phases, method, url, body)
        except Exception as exc:  # a failing target is a result, never an exception
            error_type, message = classify(exc)
            return ProbeResult.failure(error_type, message, _elapsed_ms(phases))
        if isinstance(outcome, ProbeResult):
            return outcome
        url, method, body = outcome
        if urlsplit(url).scheme not in ("http", "https"):
            return ProbeResult.failure("http_error", f"redirect to unsupported URL {url[:200]!r}", _elapsed_ms(phases))
    return ProbeResult.failure("http_error", f"more than {MAX_REDIRECTS} redirects", _elapsed_ms(phases))


async def _exchange(
    session: aiohttp.ClientSession,
    target: Target,
    check: CompiledCheck,
    phases: dict[str, Any],
    method: str,
    url: str,
    body: str | None,
) -> ProbeResult | tuple[str, str, str | None]:
    """One request: a ProbeResult, or (next_url, method, body) when the response is a redirect to follow."""
    mark(phases, "dns")
    async with session.request(
        method,
        url,
        headers=target.check.headers or None,
        data=body,
        allow_redirects=False,
        ssl=True if target.check.verify_tls else False,
    ) as response:
        phases["first_byte"] = (time.perf_counter() - phases["_t0"]) * 1000
        status = response.status
        location = response.headers.get("Location")
        if status in REDIRECT_STATUSES and location and not _explicitly_expected(check, status):
            response.close()
            next_method = "GET" if status == 303 or (status in (301, 302) and method == "POST") else method
            return urljoin(url, location), next_method, body if next_method == method else None
        mark(phases, "body")
        content, truncated = await _read_capped(response, target.check.max_body_bytes)
    latency_ms = _elapsed_ms(phases)
    if not check.status_ok(status):
        expected = sorted(check.expected_status) if check.expected_status else "2xx or 3xx"
        return ProbeResult.failure(
            "http_error",
            f"unexpected status {status} (expected {expected})",
            latency_ms,
            status_code=status,
            body_truncated=truncated,
        )
    problem = check.assertion_error(content)
    if problem:
        return ProbeResult.failure(
            "assertion_failed", problem, latency_ms, status_code=status, body_truncated=truncated
        )
    return ProbeResult(ok=True, latency_ms=latency_ms, status_code=status, body_truncated=truncated)


def _explicitly_expected(check: CompiledCheck, status: int) -> bool:
    return check.expected_status is not None and status in check.expected_status


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    """Read at most `cap` bytes; a larger body is cut off (the connection is closed, never drained)."""
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = await response.content.read(min(READ_CHUNK, cap - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    truncated = not response.content.at_eof()
    if truncated:
        response.close()
    return b"".join(chunks), truncated
