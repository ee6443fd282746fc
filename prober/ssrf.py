"""SSRF guard: which addresses a probe (or later a webhook) may connect to.

The check runs on the addresses the connection actually uses: `GuardedResolver` filters what DNS
returns, and `guarded_socket_factory` refuses a socket for a forbidden peer just before connect()
(this also covers IP literals, which aiohttp never sends to the resolver). Cloud-metadata addresses
are refused even for services with allow_private, in every spelling (decimal, hex, octal,
IPv4-mapped IPv6), because they hand out credentials.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_LEGACY_V4 = re.compile(r"^[0-9a-fA-FxX.]+$")

_executor: ThreadPoolExecutor | None = None


class BlockedAddressError(OSError):
    """The target resolves only to addresses this service may not reach."""


def embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv4-mapped, NAT64 or 6to4 IPv6 address."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour:
        return ip.sixtofour
    return None


def forbidden_reason(ip: IPAddress, allow_private: bool) -> str | None:
    """Why a connection to `ip` is refused, or None when it is allowed."""
    inner = embedded_v4(ip)
    if inner is not None:
        return forbidden_reason(inner, allow_private)
    if ip in METADATA_ADDRESSES:
        return "cloud metadata address"
    if allow_private:
        return None
    for reason, hit in (
        ("unspecified address", ip.is_unspecified),
        ("loopback address", ip.is_loopback),
        ("link-local address", ip.is_link_local),
        ("multicast address", ip.is_multicast),
        ("carrier-grade NAT address", isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT),
        (
            "private address",
            ip.is_private or ip.is_reserved or ip.is_site_local
            if isinstance(ip, ipaddress.IPv6Address)
            else ip.is_private or ip.is_reserved,
        ),
    ):
        if hit:
            return reason
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a URL host denotes literally, in any form the C library would accept
    (`2852039166`, `0xa9fea9fe`, `0251.254.169.254`, `127.1`, `[::ffff:169.254.169.254]`)."""
    host = host.strip().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_V4.match(host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_host(host: str, allow_private: bool) -> str | None:
    """A refusal message for a literal host that is forbidden, else None (names are checked once resolved)."""
    ip = parse_ip_literal(host)
    if ip is None:
        return None
    reason = forbidden_reason(ip, allow_private)
    return f"blocked: {host} is a {reason} ({ip})" if reason else None


def dns_executor() -> ThreadPoolExecutor:
    """Resolver threads of their own: lookups never queue behind other work on the default executor."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="prober-dns")
    return _executor


class GuardedResolver(AbstractResolver):
    """getaddrinfo on the dedicated executor, keeping only addresses the service may reach."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        infos = await loop.run_in_executor(
            dns_executor(), socket.getaddrinfo, host, port, family, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG
        )
        results: list[ResolveResult] = []
        refused: list[str] = []
        for fam, _, proto, _, sockaddr in infos:
            ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
            reason = forbidden_reason(ip, self.allow_private)
            if reason:
                refused.append(f"{ip} ({reason})")
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=sockaddr[0],
                    port=sockaddr[1],
                    family=fam,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        if not results:
            raise BlockedAddressError(f"blocked: {host} resolves only to forbidden addresses: {', '.join(refused)}")
        return results

    async def close(self) -> None:
        return None


def guarded_socket_factory(allow_private: bool):
    """A socket factory for aiohttp/aiohappyeyeballs that refuses forbidden peers before connect()."""

    def factory(addr_info: Any) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        reason = forbidden_reason(ip, allow_private)
        if reason:
            raise BlockedAddressError(f"blocked: {ip} is a {reason}")
        sock = socket.socket(family=family, type=type_, proto=proto)
        sock.setblocking(False)
        return sock

    return factory
