"""GET /healthz and GET /metrics of a running prober."""

import aiohttp

from prober import health
from prober.runner import Prober, ProberOptions
from tests.prober.conftest import target
from tests.prober.servers import closed_port


async def _get(port, path):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}{path}") as response:
            return response.status, await response.text()


def _prober(database_url, tmp_path, web_port, region):
    async def source():
        return [target(f"http://127.0.0.1:{web_port}/ok", service_id="face-compare", interval_s=1)]

    return Prober(
        ProberOptions(
            region=region,
            prober_id=f"{region}-1",
            database_url=database_url,
            redis_url=None,
            data_dir=tmp_path,
            heartbeat_s=0.3,
            ttl_s=1.0,
            flush_interval_s=0.2,
        ),
        targets=source,
    )


async def test_healthy_prober_reports_ok_and_metrics(conn, database_url, tmp_path, web_port):
    import asyncio

    prober = _prober(database_url, tmp_path, web_port, "health-ok")
    await prober.start()
    port = closed_port()
    site = await health.serve(prober, "127.0.0.1", port)
    await asyncio.sleep(2.5)
    status, body = await _get(port, "/healthz")
    _, metrics = await _get(port, "/metrics")
    await site.cleanup()
    await prober.stop()
    assert status == 200 and '"assignedServices": 1' in body
    for name in (
        'slamon_prober_checks_total{region="health-ok",service_id="face-compare",outcome="success",error_type=""}',
        "slamon_prober_check_latency_seconds_bucket",
        "slamon_prober_schedule_lag_seconds_count",
        "slamon_prober_spool_depth",
        'slamon_prober_assigned_services{region="health-ok"} 1',
    ):
        assert name in metrics
    # the scheduler's count of slots left as gaps, not a constant
    prober.scheduler.missed_slots = 7
    assert 'slamon_prober_missed_slots_total{region="health-ok"} 7' in prober.metrics.render()


async def test_prober_without_database_is_unhealthy_with_a_reason(tmp_path, web_port):
    prober = _prober(f"postgresql://postgres@127.0.0.1:{closed_port()}/x", tmp_path, web_port, "health-down")
    await prober.start()
    port = closed_port()
    site = await health.serve(prober, "127.0.0.1", port)
    status, body = await _get(port, "/healthz")
    await site.cleanup()
    await prober.stop(grace_s=0)
    assert status == 503 and "database unreachable" in body
