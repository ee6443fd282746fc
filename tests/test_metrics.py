"""GET /metrics of every kind of process, each a real one started as the other tests start it: `slamon api`
(its own process), `slamon worker` (its own process), a prober (with its health server, as
tests/prober/test_health.py). Every body must pass `promtool check metrics` (Debian's `prometheus`
package, installed by scripts/system-deps.sh): a series without HELP fails it. The figures are read back
from the bodies, and the API's access rule is checked (docs/operations.md, "Metrics")."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families

from app.rollups.service import ROLLUPS
from prober import health
from tests.app.conftest import ROOT, make_app  # noqa: F401
from tests.app.test_load import serve
from tests.app.test_redteam import slamon_api
from tests.conftest import free_port
from tests.prober.conftest import web_port  # noqa: F401
from tests.prober.test_health import _get, _prober
from tests.workers.conftest import queue_redis_url  # noqa: F401
from workers import metrics as worker_metrics

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


def promtool(body: str) -> tuple[int, str]:
    """`promtool check metrics` on `body`: (exit code, what it printed)."""
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make system-deps` installs Debian's prometheus package"
    done = subprocess.run([tool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def samples(body: str) -> dict[tuple[str, frozenset], float]:
    """(sample name, its labels) -> value, every sample of an exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def assert_clean_and_documented(body: str) -> None:
    """promtool finds nothing, and docs/operations.md's Metrics section lists every slamon series."""
    code, printed = promtool(body)
    assert code == 0, printed
    docs = (ROOT / "docs" / "operations.md").read_text()
    for family in text_string_to_metric_families(body):
        if family.name.startswith("slamon_"):
            suffix = "_total" if family.type == "counter" else ""
            assert f"`{family.name}{suffix}`" in docs, f"{family.name}{suffix} is not in docs/operations.md"


def value(body: str, name: str, **labels: str) -> float | None:
    return samples(body).get((name, frozenset(labels.items())))


def test_the_documented_example_alerts_are_valid_rules(tmp_path):
    """docs/operations.md's example alerts, as `promtool check rules` reads them, name series that exist."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text[text.index("### Example alerts") :]
    rules = section[section.index("```yaml\n") + len("```yaml\n") :]
    rules = rules[: rules.index("```")]
    (tmp_path / "rules.yml").write_text(rules)
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make system-deps` installs Debian's prometheus package"
    done = subprocess.run([tool, "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    documented = set(re.findall(r"`((?:slamon|process)_[a-z_]+)`", text))
    for name in set(re.findall(r"\b(slamon_[a-z_]+?)(?:_bucket)?\b", rules)):
        assert name in documented, f"{name} is alerted on but not listed"


def test_promtool_refuses_a_series_without_help():
    """The check the tests below rely on fails where it should."""
    code, printed = promtool("# TYPE slamon_example gauge\nslamon_example 1\n")
    assert code != 0 and "no help text" in printed


async def test_api_metrics_are_clean_and_labelled_by_route_template(database_url, tmp_path):
    async with slamon_api(database_url, tmp_path) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        assert (await http.get("/api/uptime/face-compare")).status_code == 200
        assert (await http.get("/api/uptime/id-liveness")).status_code == 200
        assert (await http.get("/no/such/page")).status_code == 404
        assert (await http.get("/static/base.css")).status_code == 200
        assert (await http.get("/openapi.json")).status_code == 200
        # through a reverse proxy that SLAMON_TRUSTED_PROXIES does not name: refused, loopback peer or not
        proxied = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403 and proxied.json()["error"] == "forbidden"
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(base, transports=["websocket"], wait_timeout=10)
        try:
            response = await http.get("/metrics")
        finally:
            await sio.disconnect()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert_clean_and_documented(body)
    duration = "slamon_api_request_duration_seconds_count"
    assert value(body, duration, route="/api/uptime/{service_id}", method="GET", status="2xx") == 2
    assert value(body, duration, route="<unrouted>", method="GET", status="4xx") == 1
    assert value(body, duration, route="/metrics", method="GET", status="4xx") == 1
    assert value(body, duration, route="/static/{path}", method="GET", status="2xx") == 1  # a mount
    assert value(body, duration, route="/openapi.json", method="GET", status="2xx") == 1  # a plain route
    assert "/no/such/page" not in body and "base.css" not in body  # never raw paths
    # nor a path's service id in the request series (the SLO series name services: app/metrics_slo.py)
    request_series = "\n".join(line for line in body.splitlines() if "slamon_slo_" not in line)
    assert "face-compare" not in request_series
    assert value(body, "slamon_api_socketio_clients") == 1
    assert value(body, "slamon_api_db_pool_max_connections") == 5  # SLAMON_POOL_MAX of slamon_api
    assert value(body, "slamon_api_db_pool_connections_in_use") is not None
    assert value(body, "slamon_api_requests_shed_total", reason="queue_full") == 0
    assert value(body, "process_resident_memory_bytes") > 0


async def test_api_metrics_are_served_to_the_allowed_addresses_only(make_app):  # noqa: F811
    _, client = make_app()
    assert (await client("127.0.0.1").get("/metrics")).status_code == 200
    outside = await client("198.51.100.7").get("/metrics")
    assert outside.status_code == 403 and "SLAMON_METRICS_ALLOW" in outside.json()["message"]
    _, client = make_app(metrics_allow=["198.51.100.0/24"])
    assert (await client("198.51.100.7").get("/metrics")).status_code == 200
    assert (await client("127.0.0.1").get("/metrics")).status_code == 403  # loopback only by default
    # behind a trusted proxy, the forwarded client is the one that must be allowed
    _, client = make_app(trusted_proxies=["127.0.0.1"])
    assert (await client().get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})).status_code == 403
    _, client = make_app(trusted_proxies=["127.0.0.1"], metrics_allow=["198.51.100.7"])
    assert (await client().get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})).status_code == 200


async def test_a_request_refused_by_load_shedding_is_counted(settings):
    async with (
        serve(settings, max_concurrent_requests=1, max_queued_requests=0, queue_wait_s=60) as (base, state),
        httpx.AsyncClient(base_url=base, timeout=60) as http,
    ):
        held = asyncio.create_task(http.get("/test/hold"))
        for _ in range(3000):
            if state["entered"] == 1:
                break
            await asyncio.sleep(0.02)
        assert (await http.get("/api/services")).status_code == 503
        body = (await http.get("/metrics")).text  # never shed itself
        state["release"].set()
        assert (await held).status_code == 200
    assert value(body, "slamon_api_requests_shed_total", reason="queue_full") == 1
    assert value(body, "slamon_api_requests_shed_total", reason="wait_timeout") == 0
    count = "slamon_api_request_duration_seconds_count"
    assert value(body, count, route="<unrouted>", method="GET", status="5xx") == 1  # refused before routing


async def test_worker_metrics_are_clean_and_read_the_database(conn, database_url, queue_redis_url, tmp_path):  # noqa: F811
    # A delivery pending for ten minutes and not due before tomorrow: the worker leaves it alone.
    subscription = await conn.fetchval(
        "INSERT INTO subscriptions (name, kind, url, allow_private) VALUES ('m', 'webhook', 'http://127.0.0.1:9/', "
        "true) RETURNING id"
    )
    now = datetime.now(timezone.utc)
    event = await conn.fetchval(
        "INSERT INTO notification_events (event_key, kind, payload, occurred_at, dispatched_at) "
        "VALUES ('metrics-test', 'incident.created', '{}', $1, $1) RETURNING id",
        now,
    )
    await conn.execute(
        "INSERT INTO notification_deliveries (subscription_id, event_id, event_key, next_attempt_at, created_at) "
        "VALUES ($1, $2, 'metrics-test', $3, $4)",
        subscription,
        event,
        now + timedelta(days=1),
        now - timedelta(minutes=10),
    )
    port = free_port()
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_REDIS_URL": queue_redis_url,
        "SLAMON_DATA_DIR": str(tmp_path),
        "SLAMON_SECRET_KEY": "metrics-secret-0123456789-abcdef",
    }
    command = [sys.executable, "-m", "app.cli", "worker", "--metrics-port", str(port)]
    with open(tmp_path / "worker.log", "wb") as output:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    body = ""
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for _ in range(600):  # until the refresh run at startup is counted
                try:
                    body = (await http.get("/metrics")).text
                except httpx.TransportError:
                    body = ""
                runs = (
                    value(body, "slamon_worker_job_runs_total", job="refresh_rollups", outcome="success")
                    if body
                    else None
                )
                if runs:
                    break
                assert worker.poll() is None, (tmp_path / "worker.log").read_text(errors="replace")
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"refresh_rollups never counted:\n{body}")
        # a second worker on the same port says so and runs its jobs all the same
        log = tmp_path / "second-worker.log"
        with open(log, "wb") as output:
            second = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            for _ in range(600):
                if f"cannot serve metrics on 127.0.0.1:{port}" in log.read_text(errors="replace"):
                    break
                assert second.poll() is None, log.read_text(errors="replace")
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the second worker did not report the taken port:\n{log.read_text()}")
            await asyncio.sleep(1)
            assert second.poll() is None, "the second worker stopped"
        finally:
            second.terminate()
            assert second.wait(timeout=60) == 0
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert_clean_and_documented(body)
    assert value(body, "slamon_worker_metrics_database_up") == 1
    assert value(body, "slamon_notify_deliveries_pending") == 1
    assert value(body, "slamon_notify_oldest_pending_delivery_age_seconds") >= 600
    assert value(body, "slamon_notify_events_pending") == 0
    for rollup in ROLLUPS:  # the refresh leaves the newest SLAMON_ROLLUP_GRACE_S (300 s) to live reads
        assert value(body, "slamon_rollup_refresh_lag_seconds", rollup=rollup.name) >= 300
    assert value(body, "slamon_worker_job_duration_seconds_count", job="refresh_rollups") >= 1
    assert value(body, "slamon_worker_job_runs_total", job="detect_incidents", outcome="failure") == 0
    assert value(body, "slamon_worker_job_last_success_timestamp_seconds", job="refresh_rollups") > 0


async def test_job_outcomes_are_counted():
    """What `timed` counts for each way a job can end (the worker's job wrapper, run here on its own)."""
    from arq import Retry

    async def succeeds(ctx):
        return "done"

    async def retries(ctx):
        raise Retry(defer=1)

    async def fails(ctx):
        raise ValueError("bug")

    async def hangs(ctx):
        await asyncio.sleep(60)

    runs = "slamon_worker_job_runs_total"

    def count(job: str, outcome: str) -> float:
        return worker_metrics.REGISTRY.get_sample_value(runs, {"job": job, "outcome": outcome}) or 0

    assert await worker_metrics.timed("t_ok", succeeds, 5)({}) == "done"
    for job_try in (1, 5):  # a retry on the last allowed try is the job's failure
        with pytest.raises(Retry):
            await worker_metrics.timed("t_retry", retries, 5)({"job_try": job_try})
    with pytest.raises(ValueError):
        await worker_metrics.timed("t_fail", fails, 5)({})
    with pytest.raises(TimeoutError):  # arq's timeout cancels the job
        await asyncio.wait_for(worker_metrics.timed("t_hang", hangs, 5)({}), 0.05)
    assert [count("t_ok", "success"), count("t_retry", "retry"), count("t_retry", "failure")] == [1, 1, 1]
    assert [count("t_fail", "failure"), count("t_hang", "cancelled"), count("t_ok", "failure")] == [1, 1, 0]


async def test_prober_metrics_are_clean_and_count_checks_per_service(conn, database_url, tmp_path, web_port):  # noqa: F811
    prober = _prober(database_url, tmp_path, web_port, "metrics")
    await prober.start()
    port = free_port()
    site = await health.serve(prober, "127.0.0.1", port)
    try:
        for _ in range(300):
            _, body = await _get(port, "/metrics")
            if value(
                body,
                "slamon_prober_checks_total",
                region="metrics",
                service_id="face-compare",
                outcome="success",
                error_type="",
            ):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"no check counted:\n{body}")
    finally:
        await site.cleanup()
        await prober.stop()
    assert_clean_and_documented(body)
