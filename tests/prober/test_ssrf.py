"""The SSRF guard: forbidden address classes, metadata in every spelling, enforced on the address
actually connected to and on every redirect hop."""

import ipaddress

import pytest

from app.net import ssrf
from prober.checks import run_check
from tests.prober.conftest import target


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::7f00:1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
    ],
)
def test_forbidden_address_classes(address, reason):
    assert reason in ssrf.forbidden_reason(ipaddress.ip_address(address), allow_private=False)


@pytest.mark.parametrize(
    "address",
    [
        "192.0.0.192",
        "168.63.129.16",
        "169.254.170.23",
        "fd00:ec2::23",
        "169.254.0.23",
        "::ffff:168.63.129.16",
        "::a9fe:a9fe",
        "::192.0.0.192",
        "64:ff9b::a83f:8110",
    ],
)
def test_every_clouds_metadata_address_is_refused_even_with_allow_private(address):
    for allow_private in (False, True):
        assert "metadata" in ssrf.forbidden_reason(ipaddress.ip_address(address), allow_private)


# Ranges where ipaddress.is_private/is_reserved answer differently across Python releases (or not
# at all): the guard names them explicitly.
@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b:1::1",
        "3fff::1",
        "5f00::1",
        "2001:db8::1",
        "2001::1",
        "100::1",
        "fec0::1",
        "198.18.0.1",
        "192.0.2.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.8",
        "::7f00:1",
    ],
)
def test_special_purpose_ranges_are_refused_from_explicit_lists(address):
    assert ssrf.forbidden_reason(ipaddress.ip_address(address), allow_private=False) is not None


def test_the_guard_does_not_ask_ipaddress_what_is_private():
    source = open(ssrf.__file__).read()
    assert "is_private" not in source.replace("ipaddress.is_private &", "") and ".is_reserved" not in source


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_are_allowed(address):
    assert ssrf.forbidden_reason(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "100.64.0.1", "fe80::1"])
def test_allow_private_opens_private_ranges(address):
    assert ssrf.forbidden_reason(ipaddress.ip_address(address), allow_private=True) is None


METADATA_SPELLINGS = [
    "169.254.169.254",
    "2852039166",
    "0xa9fea9fe",
    "0xA9FEA9FE",
    "0251.0376.0251.0376",
    "169.254.43518",
    "0xa9.0xfe.0xa9.0xfe",
    "[::ffff:169.254.169.254]",
    "[::ffff:a9fe:a9fe]",
    "[fd00:ec2::254]",
    "[64:ff9b::a9fe:a9fe]",
    "169.254.169.254.",
]


@pytest.mark.parametrize("host", METADATA_SPELLINGS)
def test_metadata_literals_are_recognised_in_every_spelling(host):
    message = ssrf.check_host(host, allow_private=True)
    assert message and message.startswith("blocked:") and "metadata" in message


@pytest.mark.parametrize("host", METADATA_SPELLINGS)
async def test_metadata_targets_fail_even_with_allow_private(ctx, host):
    result = await run_check(target(f"http://{host}/latest/meta-data/", allow_private=True), ctx, 3)
    assert (result.ok, result.error_type) == (False, "connection_error")
    assert "blocked" in result.error_message


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "127.1", "[::1]", "0.0.0.0"])
async def test_loopback_target_is_refused_without_allow_private(ctx, web_port, host):
    result = await run_check(target(f"http://{host}:{web_port}/ok", allow_private=False), ctx, 3)
    assert (result.ok, result.error_type) == (False, "connection_error")
    assert "blocked" in result.error_message


async def test_same_target_allowed_with_allow_private(ctx, web_port):
    assert (await run_check(target(f"http://localhost:{web_port}/ok", allow_private=True), ctx, 3)).ok


async def test_redirect_hop_to_metadata_is_refused(ctx, web_port):
    url = f"http://127.0.0.1:{web_port}/redirect-to?url=http://169.254.169.254/latest/meta-data/"
    result = await run_check(target(url, allow_private=True), ctx, 3)
    assert (result.ok, result.error_type) == (False, "connection_error")
    assert "metadata" in result.error_message


async def test_redirect_to_decimal_metadata_is_refused(ctx, web_port):
    result = await run_check(
        target(f"http://127.0.0.1:{web_port}/redirect-to?url=http://2852039166/", allow_private=True), ctx, 3
    )
    assert "blocked" in result.error_message


async def test_resolver_filters_what_dns_returns():
    resolver = ssrf.GuardedResolver(allow_private=False)
    with pytest.raises(ssrf.BlockedAddressError, match="blocked: localhost"):
        await resolver.resolve("localhost", 80)
    assert await ssrf.GuardedResolver(allow_private=True).resolve("localhost", 80)


def test_socket_factory_refuses_forbidden_peer():
    import socket

    factory = ssrf.guarded_socket_factory(allow_private=True)
    with pytest.raises(ssrf.BlockedAddressError):
        factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80)))
    factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))).close()


async def test_tcp_checks_are_guarded_too(ctx, web_port):
    result = await run_check(target(f"tcp://127.0.0.1:{web_port}", kind="tcp", allow_private=False), ctx, 3)
    assert (result.error_type, "blocked" in result.error_message) == ("connection_error", True)
    result = await run_check(target("tcp://[::ffff:169.254.169.254]:80", kind="tcp", allow_private=True), ctx, 3)
    assert "metadata" in result.error_message
