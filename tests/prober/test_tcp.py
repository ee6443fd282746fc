"""TCP checks: open means up; refused, unresolvable and silent-firewall targets each fail with their type."""

from prober.checks import run_check
from tests.prober.conftest import target
from tests.prober.servers import closed_port


async def test_open_port_is_up(ctx, web_port):
    result = await run_check(target(f"tcp://127.0.0.1:{web_port}", kind="tcp"), ctx, 3)
    assert result.ok and {"dns", "connect", "total"} <= set(result.phases_ms)


async def test_closed_port_is_a_connection_error(ctx):
    result = await run_check(target(f"tcp://127.0.0.1:{closed_port()}", kind="tcp"), ctx, 3)
    assert (result.ok, result.error_type) == (False, "connection_error")


async def test_unresolvable_host_is_a_dns_error(ctx):
    result = await run_check(target("tcp://nothing-here.invalid:5432", kind="tcp"), ctx, 10)
    assert (result.ok, result.error_type) == (False, "dns_error")


async def test_blackholed_address_times_out(ctx):
    # TEST-NET-1 is never routed; allow_private because 192.0.2.0/24 counts as reserved.
    result = await run_check(target("tcp://192.0.2.1:9", kind="tcp"), ctx, 0.5)
    assert result.error_type in ("timeout", "connection_error")  # depends on whether a route exists
