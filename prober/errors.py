"""Turn whatever a failing target did into one of the ingest's error types and a readable message."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator

import aiohttp

from app.net.ssrf import BlockedAddressError


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        yield item
        item = item.__cause__ or item.__context__


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def classify(exc: BaseException) -> tuple[str, str]:
    """(error_type, message) for an exception raised while probing."""
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, BlockedAddressError) or "blocked:" in str(item):
            text = str(item)
            return "connection_error", text[text.index("blocked:") :] if "blocked:" in text else text
    for item in chain:
        if isinstance(item, (aiohttp.ClientConnectorCertificateError, ssl.SSLCertVerificationError)):
            return "tls_error", f"certificate rejected: {_describe(item)}"
        if isinstance(item, (aiohttp.ClientConnectorSSLError, aiohttp.ClientSSLError, ssl.SSLError)):
            return "tls_error", f"TLS handshake failed: {_describe(item)}"
    for item in chain:
        if isinstance(item, (socket.gaierror, aiohttp.ClientConnectorDNSError)):
            return "dns_error", f"cannot resolve host: {_describe(item)}"
    for item in chain:
        if isinstance(item, aiohttp.ClientResponseError) or type(item).__module__.startswith("aiohttp.http_"):
            return "http_error", f"invalid HTTP response: {_describe(item)}"
        if isinstance(item, aiohttp.ClientPayloadError):
            return "connection_error", f"response body broken off: {_describe(item)}"
    for item in chain:
        if isinstance(item, (aiohttp.ServerDisconnectedError, ConnectionError, aiohttp.ClientConnectionError, OSError)):
            return "connection_error", _describe(item)
        if isinstance(item, (asyncio.TimeoutError, TimeoutError)):
            return "timeout", _describe(item)
    if isinstance(exc, aiohttp.InvalidURL):
        return "connection_error", f"invalid URL: {exc}"
    return "connection_error", f"unexpected error: {_describe(exc)}"
