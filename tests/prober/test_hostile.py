"""Hostile targets cost one bounded check: never answering, dripping, a 10 GiB body, resets, garbage."""

import time
import tracemalloc

import pytest

from prober.checks import run_check
from tests.prober.conftest import target

TIMEOUT_S = 1.0


@pytest.mark.parametrize(
    "name, error_type",
    [
        ("silent", "timeout"),
        ("drip", "timeout"),
        ("drip_headers", "timeout"),
        ("reset", "connection_error"),
        ("reset_mid_body", "connection_error"),
        ("garbage", "http_error"),
    ],
)
async def test_hostile_target_is_one_bounded_failed_check(ctx, hostile_ports, name, error_type):
    started = time.monotonic()
    result = await run_check(target(f"http://127.0.0.1:{hostile_ports[name]}/"), ctx, TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert (result.ok, result.error_type) == (False, error_type), result.error_message
    assert elapsed < TIMEOUT_S + 1.0


async def test_huge_body_is_read_up_to_the_cap_only(ctx, hostile_ports):
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = await run_check(
            target(f"http://127.0.0.1:{hostile_ports['huge']}/", check={"max_body_bytes": 1024 * 1024, "keyword": "z"}),
            ctx,
            10,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok and result.body_truncated
    assert time.monotonic() - started < 5
    assert peak < 16 * 1024 * 1024


async def test_many_hanging_targets_do_not_stall_a_healthy_one(ctx, hostile_ports, web_port):
    import asyncio

    hanging = [
        asyncio.create_task(run_check(target(f"http://127.0.0.1:{hostile_ports['silent']}/"), ctx, 3))
        for _ in range(200)
    ]
    await asyncio.sleep(0.2)
    started = time.monotonic()
    healthy = await run_check(target(f"http://127.0.0.1:{web_port}/ok"), ctx, 3)
    assert healthy.ok and time.monotonic() - started < 1
    results = await asyncio.gather(*hanging)
    assert {r.error_type for r in results} == {"timeout"}
