"""Worker robustness: transient failures retry with back-off; cron jobs are unique across workers; a
real `slamon worker` SIGKILLed in the middle of a detection job leaves nothing half-done, and after a
restart the job completes with exactly one incident."""

import asyncio
import copy
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from arq import Retry, create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from app.config import get_settings
from tests.app.conftest import ROOT
from tests.app.test_realtime import free_port
from tests.workers.conftest import write_slots
from workers import common
from workers.detection import detect_incidents
from workers.settings import WorkerSettings

SID = "face-compare"


def test_back_off_doubles_up_to_five_minutes():
    assert [common.backoff_s(t) for t in (1, 2, 3, 4, 5, 6, 7, 8)] == [5, 10, 20, 40, 80, 160, 300, 300]


async def test_a_database_outage_is_retried_not_failed(worker_ctx):
    down = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{free_port()}/slamon", min_size=0)
    for job_try, defer in ((1, 5), (3, 20)):
        with pytest.raises(Retry) as raised:
            await detect_incidents({**worker_ctx, "pool": down, "job_try": job_try}, SID)
        assert raised.value.defer_score == defer * 1000
    await down.close()


async def test_a_trigger_waits_for_the_slot_it_announces(conn, worker_ctx):
    last = await write_slots(conn, SID, datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=3), "xxx")
    ahead = {**worker_ctx, "job_id": f"detect:{SID}:{int(last.timestamp()) + 60}"}
    with pytest.raises(Retry):
        await detect_incidents(ahead, SID)  # its result is not written yet: look again in 1 s
    assert await detect_incidents({**ahead, "job_try": 4}, SID) == 1  # not forever: the state moves on
    assert await detect_incidents({**worker_ctx, "job_id": f"detect:{SID}:{int(last.timestamp())}"}, SID) == 0


async def test_a_bug_is_not_retried(worker_ctx):
    with pytest.raises(AttributeError):
        await detect_incidents({**worker_ctx, "pool": None}, SID)


async def test_one_services_bug_does_not_stop_the_sweep_but_an_outage_does():
    async def work(service_id):
        if service_id == "b":
            raise ValueError("a bug")
        return service_id.upper()

    assert await common.each_service("job", ["a", "b", "c"], work) == {"a": "A", "b": "error", "c": "C"}

    async def outage(service_id):
        raise ConnectionRefusedError()

    with pytest.raises(ConnectionRefusedError):
        await common.each_service("job", ["a"], outage)


async def test_cron_jobs_are_unique_across_workers(queue_redis_url):
    assert all(job.unique for job in WorkerSettings.cron_jobs)
    redis_settings = RedisSettings.from_dsn(queue_redis_url)
    workers = [
        Worker(
            functions=[],
            cron_jobs=[copy.copy(job) for job in WorkerSettings.cron_jobs],
            redis_settings=redis_settings,
            handle_signals=False,
        )
        for _ in range(3)
    ]
    tick = datetime(2030, 1, 1, 3, 16, 59, tzinfo=timezone.utc)
    for worker in workers:
        worker._pool = await create_pool(redis_settings)
        await worker.run_cron(tick, 0.5)  # schedules each job's next run
        await worker.run_cron(tick + timedelta(seconds=16), 0.5)  # the 03:17:15 tick, seen by all three
    queued = [j.function for j in await workers[0].pool.queued_jobs()]
    # once each: at startup refresh, month close, the statement delivery, the notification scan and the
    # escalation tick; at 03:17:00 refresh, retention, the scan and the escalation tick (every 5 s, their
    # next runs); at 03:17:15 detection
    assert sorted(queued) == [
        "cron:apply_retention",
        "cron:close_months",
        "cron:deliver_statements",
        "cron:detect_all",
        "cron:escalate_tick",
        "cron:escalate_tick",
        "cron:notify_tick",
        "cron:notify_tick",
        "cron:refresh_rollups",
        "cron:refresh_rollups",
    ]
    for worker in workers:
        await worker.pool.aclose()


def _start_worker(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.mark.slow
async def test_a_worker_killed_mid_detection_leaves_no_trace_and_the_job_completes_after_restart(
    conn, pool, database_url, queue_redis_url, tmp_path
):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    last = await write_slots(conn, SID, now - timedelta(minutes=6), "...xxx")
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_REDIS_URL": queue_redis_url,
        "SLAMON_WORKER_JOB_TIMEOUT_S": "10",
        "SLAMON_SECRET_KEY": "worker-test-secret",
        "SLAMON_DATA_DIR": str(tmp_path),
    }
    redis = await create_pool(RedisSettings.from_dsn(queue_redis_url))
    job = await redis.enqueue_job("detect_incidents", SID, _job_id=f"detect:{SID}:{int(last.timestamp())}")
    blocker = await pool.acquire()
    transaction = blocker.transaction()
    await transaction.start()
    # The job will write the incident, its first note, then the audit entry: hold the audit log so
    # the job stops in the middle, its incident written but not committed.
    await blocker.execute("LOCK TABLE audit_log IN SHARE MODE")
    worker = _start_worker(env)
    try:
        waiting = (
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'slamon-worker' "
            "AND wait_event_type = 'Lock' AND query ILIKE '%audit_log%'"
        )
        await _wait(lambda: conn.fetchval(waiting), 60, "the job to block on the audit log")
        backend = await conn.fetchval(waiting)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        await transaction.rollback()
        await pool.release(blocker)
    await _wait(
        lambda: conn.fetchval("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", backend),
        30,
        "the killed worker's transaction to end",
    )
    assert await conn.fetchval("SELECT count(*) FROM incidents") == 0  # nothing half-done survived
    worker = _start_worker(env)
    try:
        await _wait(job.result_info, 90, "the job to run again and complete")
        result = await job.result_info()
        assert result.success and result.job_try >= 2
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        await redis.aclose()
    rows = await conn.fetch("SELECT priority, detected_service_id FROM incidents")
    assert [(r["priority"], r["detected_service_id"]) for r in rows] == [("P1", SID)]
    assert await conn.fetchval("SELECT count(*) FROM incident_updates") == 1


def test_no_job_outlives_the_in_progress_mark():
    """arq marks a running job in progress for the longest job timeout + 10 s: one long timeout would
    leave every job of a killed worker stuck that long."""
    timeouts = [f.timeout_s for f in WorkerSettings.functions] + [c.timeout_s for c in WorkerSettings.cron_jobs]
    assert max(t.total_seconds() if hasattr(t, "total_seconds") else t for t in timeouts) <= max(
        WorkerSettings.job_timeout, get_settings().webhook_timeout_s + 15
    )
