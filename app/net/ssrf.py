"""SSRF guard: which addresses a probe or a notification may connect to.

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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity agent over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure WireServer (a public address: only this list catches it)
        "169.254.0.23",  # Tencent Cloud
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d; some stacks still route it


def _networks(reason: str, *cidrs: str) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]:
    return [(ipaddress.ip_network(cidr), reason) for cidr in cidrs]


# Explicit lists (IANA special-purpose registries), not ipaddress.is_private & co.: their meaning
# changed between Python releases (3.11.10/3.12.4/3.13), so the guard would depend on the interpreter.
FORBIDDEN_NETWORKS = [
    *_networks("unspecified address", "0.0.0.0/8", "::/128"),
    *_networks("loopback address", "127.0.0.0/8", "::1/128"),
    *_networks("link-local address", "169.254.0.0/16", "fe80::/10"),
    *_networks("multicast address", "224.0.0.0/4", "ff00::/8"),
    *_networks("carrier-grade NAT address", "100.64.0.0/10"),
    *_networks(
        "private address", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10", "64:ff9b:1::/48"
    ),
    *_networks(
        "reserved address",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
    ),
]
_LEGACY_V4 = re.compile(r"^[0-9a-fA-FxX.]+$")

_executor: ThreadPoolExecutor | None = None


class BlockedAddressError(OSError):
    """The target resolves only to addresses this service may not reach."""


def embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):  # :: and ::1 are IPv6's own
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
    for network, reason in FORBIDDEN_NETWORKS:
        if ip.version == network.version and ip in network:
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
        _executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="guarded-dns")
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
            address, peer_port = str(sockaddr[0]), int(sockaddr[1])  # AF_INET/AF_INET6: (host, port, ...)
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            reason = forbidden_reason(ip, self.allow_private)
            if reason:
                refused.append(f"{ip} ({reason})")
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=peer_port,
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


def guarded_socket_factory(allow_private: bool) -> Callable[[Any], socket.socket]:
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
