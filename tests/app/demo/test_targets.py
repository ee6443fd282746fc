"""The demo targets: realistic latency, every scripted fault reachable, faults forced through /control."""

import time

import aiohttp
import pytest

from app.demo import targets
from prober.checks import run_check
from tests.prober.conftest import ctx, target  # noqa: F401 (ctx: fixture)
from tests.prober.servers import closed_port


def test_script_covers_every_fault_for_every_service_deterministically():
    for service_id in targets.SERVICE_IDS:
        modes = {targets.scripted_mode(service_id, t) for t in range(0, targets.CYCLE_S, 30)}
        assert modes == {"ok", "slow", "very_slow", "down", "refuse", "flap"}
        assert [targets.scripted_mode(service_id, t) for t in range(0, 7200, 60)] == [
            targets.scripted_mode(service_id, t + targets.CYCLE_S) for t in range(0, 7200, 60)
        ]
    # services are not all down at once
    assert len({targets.scripted_mode(s, 3950) for s in targets.SERVICE_IDS}) > 1


def test_latency_distribution_is_realistic():
    import random

    rng = random.Random(1)
    samples = sorted(targets.latency_s("face-compare", "ok", rng) for _ in range(2000))
    assert 0.6 < samples[1000] < 1.0 and samples[-1] < 7
    assert all(targets.latency_s("face-compare", "slow", rng) > 7 for _ in range(50))
    assert all(targets.latency_s("face-compare", "very_slow", rng) > 15 for _ in range(50))


@pytest.fixture
async def demo():
    port = closed_port()
    app_targets = targets.DemoTargets(speed=0.01)
    app_targets.mode = _always_ok_unless_overridden(app_targets)
    runner = await targets.serve("127.0.0.1", port, app_targets)
    yield port
    await runner.cleanup()


def _always_ok_unless_overridden(demo_targets):
    def mode(service_id):
        override = demo_targets.overrides.get(service_id)
        return override.mode if override and override.until > time.time() else "ok"

    return mode


async def _control(port, service_id, mode, seconds=30):
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"http://127.0.0.1:{port}/{service_id}/control", json={"mode": mode, "seconds": seconds}
        ) as r:
            return r.status


@pytest.mark.parametrize(
    "mode, error_type",
    [
        ("ok", None),
        ("down", "http_error"),
        ("refuse", "connection_error"),
        ("slow", "timeout"),
    ],
)
async def test_forced_modes_exercise_each_path(ctx, demo, mode, error_type):
    assert await _control(demo, "curp-verifier", mode) == 200
    check = target(f"http://127.0.0.1:{demo}/curp-verifier/health", check={"json_path": "status", "json_value": "ok"})
    result = await run_check(check, ctx, 0.05)
    assert result.error_type == error_type, result.error_message


async def test_flap_alternates(ctx, demo):
    await _control(demo, "id-liveness", "flap")
    check = target(f"http://127.0.0.1:{demo}/id-liveness/health")
    outcomes = [(await run_check(check, ctx, 2)).ok for _ in range(4)]
    assert outcomes in ([True, False, True, False], [False, True, False, True])


async def test_control_refuses_bad_requests(demo):
    assert await _control(demo, "curp-verifier", "explode") == 400
    assert await _control(demo, "no-such-service", "down") == 404
