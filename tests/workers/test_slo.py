"""SLO evaluation (app/slo/evaluation.py) against real PostgreSQL: violations opened, escalated and
closed from 5-minute measurements per the SLA document's thresholds and durations, idempotently;
multi-window burn-rate alerts; maintenance left out; the violations API; the worker's realtime event."""

import asyncio
from datetime import datetime, timedelta, timezone

from app.ingest.service import ApiCallRow, write_api_calls
from app.services import service as services
from app.slo.evaluation import evaluate
from tests.workers.conftest import T0, write_slots

MINUTE = timedelta(minutes=1)
BUCKET = timedelta(minutes=5)


async def violations(conn, service_id, slo=None):
    return [
        dict(r)
        for r in await conn.fetch(
            "SELECT * FROM slo_violations WHERE service_id = $1 AND ($2::text IS NULL OR slo = $2) ORDER BY id",
            service_id,
            slo,
        )
    ]


async def run(conn, service_id, now):
    return await evaluate(conn, await services.get(conn, service_id), now)


def one_failure_per_bucket(buckets: int) -> str:
    return "..x.." * buckets  # 80 % per 5-minute measurement: below both 98 % and 97 %


async def test_availability_critical_after_30_minutes_then_closed_with_its_true_end(conn):
    sid = "face-compare"
    await write_slots(conn, sid, T0, "." * 120 + one_failure_per_bucket(5))
    end = T0 + 120 * MINUTE + 5 * BUCKET
    await run(conn, sid, end + 10 * timedelta(seconds=1))
    assert await violations(conn, sid, "availability") == []  # 25 minutes: not yet
    await write_slots(conn, sid, end, one_failure_per_bucket(1))
    changes = await run(conn, sid, end + BUCKET + timedelta(seconds=10))
    (v,) = await violations(conn, sid, "availability")
    assert ("opened", "availability") in [(c.kind, c.violation["slo"]) for c in changes]
    assert (v["severity"], v["started_at"], v["ended_at"]) == ("CRITICAL", T0 + 120 * MINUTE, None)
    assert (v["threshold"], v["worst_value"]) == (97, 80)
    assert [
        c.violation["slo"]
        for c in await run(conn, sid, end + BUCKET + timedelta(seconds=40))
        if c.violation["slo"] == "availability"
    ] == []  # repeated: nothing more
    await write_slots(conn, sid, end + BUCKET, ".....")  # a clean measurement closes it
    changes = await run(conn, sid, end + 2 * BUCKET + timedelta(seconds=10))
    (v,) = await violations(conn, sid, "availability")
    assert ("closed", "availability") in [(c.kind, c.violation["slo"]) for c in changes]
    assert v["ended_at"] == end + BUCKET and v["ended_at"] - v["started_at"] == timedelta(minutes=30)


async def test_failures_in_maintenance_are_no_violation(conn):
    sid = "face-compare"
    await conn.execute(
        "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) VALUES ('upgrade', $1, $2, $3)",
        [sid],
        T0,
        T0 + 2 * timedelta(hours=1),
    )
    last = await write_slots(conn, sid, T0, "x" * 60 + one_failure_per_bucket(2) + "x" * 50)
    await run(conn, sid, last + MINUTE)
    assert await violations(conn, sid) == []


def calls(sid, start, buckets, latencies, status=200, per_bucket=20):
    rows = []
    for b in range(buckets):
        for i in range(per_bucket):
            latency = latencies[i] if i < len(latencies) else 300
            code = (
                status[i]
                if isinstance(status, list) and i < len(status)
                else (200 if isinstance(status, list) else status)
            )
            rows.append(ApiCallRow(start + b * BUCKET + i * BUCKET / per_bucket, sid, "/x", "GET", code, latency))
    return rows


async def test_latency_warning_escalates_to_critical_in_the_same_violation(conn):
    sid = "curp-verifier"  # developer: P50/P95/P99 500/1000/2000 ms
    await write_api_calls(conn, calls(sid, T0, 3, [1500, 1500]), now=T0 + timedelta(days=1))  # P95 1500 ms
    changes = await run(conn, sid, T0 + 3 * BUCKET + MINUTE)
    assert [(c.kind, c.violation["slo"], c.violation["severity"]) for c in changes] == [
        ("opened", "latency_p95", "WARNING")
    ]
    (first,) = await violations(conn, sid)
    await write_api_calls(conn, calls(sid, T0 + 3 * BUCKET, 3, [2500, 2500]), now=T0 + timedelta(days=1))
    changes = await run(conn, sid, T0 + 6 * BUCKET + MINUTE)
    assert sorted((c.kind, c.violation["slo"], c.violation["severity"]) for c in changes) == [
        ("escalated", "latency_p95", "CRITICAL"),
        ("opened", "latency_p99", "WARNING"),
    ]
    p95 = (await violations(conn, sid, "latency_p95"))[0]
    assert (p95["id"], p95["started_at"], p95["threshold"], p95["worst_value"]) == (first["id"], T0, 2000, 2500)
    details = __import__("json").loads(p95["details"])
    assert details["warningMinutes"] == 15 and details["criticalMinutes"] == 15


async def test_4xx_and_5xx_rates_per_measurement(conn):
    sid = "curp-verifier"
    statuses = [404] * 9 + [500]  # 9 % 4xx (WARNING over 8 %), 1 % 5xx (CRITICAL over 0.5 %)
    await write_api_calls(conn, calls(sid, T0, 1, [], status=statuses, per_bucket=100), now=T0 + timedelta(days=1))
    await run(conn, sid, T0 + BUCKET + MINUTE)
    found = {v["slo"]: v["severity"] for v in await violations(conn, sid)}
    assert found == {"error_rate_4xx": "WARNING", "error_rate_5xx": "CRITICAL"}
    await write_api_calls(
        conn, calls(sid, T0 + BUCKET, 1, [], status=[404] * 11, per_bucket=100), now=T0 + timedelta(days=1)
    )
    await run(conn, sid, T0 + 2 * BUCKET + MINUTE)
    found = {v["slo"]: (v["severity"], v["ended_at"]) for v in await violations(conn, sid)}
    assert found == {"error_rate_4xx": ("CRITICAL", None), "error_rate_5xx": ("CRITICAL", T0 + BUCKET)}


async def test_burn_rate_alerts_need_both_windows(conn):
    sid = "face-compare"  # 99.95 %: two failed slots burn 6 h of budget 11x, one hour's 66x
    last = await write_slots(conn, sid, T0, "." * 400 + "x.x")
    await run(conn, sid, last + MINUTE)
    found = {v["slo"]: v["severity"] for v in await violations(conn, sid) if v["slo"].startswith("burn")}
    assert found == {"burn_rate_fast": "CRITICAL", "burn_rate_slow": "WARNING"}
    last = await write_slots(conn, sid, last + MINUTE, "." * 6)  # the 5-minute window is clean again
    await run(conn, sid, last + MINUTE)
    open_now = {v["slo"] for v in await violations(conn, sid) if v["ended_at"] is None}
    assert "burn_rate_fast" not in open_now and "burn_rate_slow" in open_now
    last = await write_slots(conn, sid, last + MINUTE, "." * 30)  # and the 30-minute one
    await run(conn, sid, last + MINUTE)
    assert all(v["ended_at"] is not None for v in await violations(conn, sid) if v["slo"].startswith("burn"))


async def test_evaluators_racing_open_one_violation(conn, pool):
    sid = "face-compare"
    await write_slots(conn, sid, T0, one_failure_per_bucket(7))
    service = await services.get(conn, sid)

    async def one():
        async with pool.acquire() as c:
            return await evaluate(c, service, T0 + 7 * BUCKET + MINUTE)

    await asyncio.gather(*(one() for _ in range(3)))
    assert len(await violations(conn, sid, "availability")) == 1


async def test_violations_api_filters_and_pages(conn, make_client):
    rows = [
        ("face-compare", "availability", "CRITICAL", T0, T0 + timedelta(hours=1)),
        ("face-compare", "latency_p95", "WARNING", T0 + timedelta(hours=2), None),
        ("curp-verifier", "error_rate_5xx", "WARNING", T0 + timedelta(days=2), T0 + timedelta(days=2, hours=5)),
    ]
    for sid, slo, severity, start, end in rows:
        await conn.execute(
            "INSERT INTO slo_violations (service_id, slo, severity, started_at, ended_at, threshold) "
            "VALUES ($1, $2, $3, $4, $5, 1)",
            sid,
            slo,
            severity,
            start,
            end,
        )
    client = await make_client(now=T0 + timedelta(days=3))

    async def slos(**params):
        r = await client.get("/api/slo/violations", params=params)
        assert r.status_code == 200, r.text
        return [v["slo"] for v in r.json()["violations"]]

    assert await slos() == ["error_rate_5xx", "latency_p95", "availability"]
    assert await slos(serviceId="face-compare", state="open") == ["latency_p95"]
    assert await slos(state="closed", severity="CRITICAL") == ["availability"]
    assert await slos(
        since=(T0 + timedelta(hours=1, minutes=30)).isoformat(), until=(T0 + timedelta(days=1)).isoformat()
    ) == ["latency_p95"]
    page = (await client.get("/api/slo/violations", params={"limit": 2, "page": 2})).json()
    assert [v["slo"] for v in page["violations"]] == ["availability"] and page["pagination"]["total"] == 3
    long = (await client.get("/api/slo/violations", params={"slo": "error_rate_5xx"})).json()["violations"][0]
    assert (long["durationSeconds"], long["duration"], long["open"]) == (5 * 3600, "5h 0m", False)
    assert (await client.get("/api/slo/violations", params={"serviceId": "nope"})).status_code == 404
    bad = await client.get("/api/slo/violations", params={"since": T0.isoformat(), "until": T0.isoformat()})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "until"
    report = (await client.get("/api/slo/face-compare")).json()
    assert [v["slo"] for v in report["openViolations"]] == ["latency_p95"]


async def test_the_worker_announces_changed_slo_figures_once(conn, worker_ctx):
    from workers.slo import evaluate_slos

    sid = "face-compare"
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    await write_slots(conn, sid, now - 40 * MINUTE, "." * 37 + "x..")  # failed 3 minutes ago
    publisher = worker_ctx["publisher"].publisher
    since = await publisher.latest_seq()
    await evaluate_slos(worker_ctx)
    (event,) = [e for e in (await publisher.replay(since, {"slo"})).model_dump()["events"]]
    assert event["event"] == "sla-metrics-updated" and event["rooms"] == ["slo"]
    # not to the status page's rooms: a visitor would receive every service's report each minute
    page_rooms = {"system-status", "uptime", "incidents"}
    seen_by_page = (await publisher.replay(since, page_rooms)).model_dump()["events"]
    assert not [e for e in seen_by_page if e["event"] == event["event"]]
    # one event for the run: every changed service in it, each once
    ids = [s["serviceId"] for s in event["data"]["services"]]
    assert sid in ids and len(ids) == len(set(ids))
    (update,) = [s for s in event["data"]["services"] if s["serviceId"] == sid]
    assert {c["violation"]["slo"] for c in update["changes"]} == {"burn_rate_fast", "burn_rate_slow"}
    availability = update["metrics"]["slos"][0]
    assert availability["slo"] == "availability" and isinstance(availability["target"], float)
    latest = await publisher.latest_seq()
    await evaluate_slos(worker_ctx)
    again = [
        s
        for e in (await publisher.replay(latest, {"slo"})).model_dump()["events"]
        for s in e["data"]["services"]
        if s["serviceId"] == sid
    ]
    assert again == []


async def test_a_run_splits_its_event_and_the_stream_keeps_the_last_runs(conn, worker_ctx, monkeypatch):
    """Every changed service in the run's events (SERVICES_PER_EVENT each); the replay stream keeps
    the sla-metrics-updated events of the last RETAINED_RUNS runs and says what it no longer has."""
    from workers import slo as worker

    monkeypatch.setattr(worker, "SERVICES_PER_EVENT", 2)
    monkeypatch.setattr(worker, "RETAINED_RUNS", 2)
    publisher = worker_ctx["publisher"].publisher
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    first = await publisher.latest_seq()
    runs = []
    for n in range(4):
        await conn.execute("DELETE FROM job_cursors WHERE job = 'slo'")  # a new month's run: every service
        since = await publisher.latest_seq()
        await redis_forget_digests(publisher)
        await worker.sweep_slos(worker_ctx, now + n * MINUTE)
        events = (await publisher.replay(since, {"slo"})).model_dump()["events"]
        ids = [s["serviceId"] for e in events for s in e["data"]["services"]]
        active = {s["id"] for s in await services.list_active(conn)}
        assert sorted(ids) == sorted(active) and all(len(e["data"]["services"]) <= 2 for e in events)
        assert {e["data"]["evaluatedAt"] for e in events} == {(now + n * MINUTE).isoformat().replace("+00:00", "Z")}
        runs.append([e["seq"] for e in events])
    replay = (await publisher.replay(first, {"slo"})).model_dump()
    kept = [e["seq"] for e in replay["events"] if e["event"] == "sla-metrics-updated"]
    assert kept == runs[2] + runs[3] and replay["complete"] is False
    assert (await publisher.replay(runs[2][0], {"slo"})).complete is True


async def redis_forget_digests(publisher):
    async for key in publisher.redis.scan_iter(f"{publisher.channel}:slo-digest:*"):
        await publisher.redis.delete(key)


async def test_a_service_leaving_the_catalog_ends_its_open_violations(conn, worker_ctx):
    from app.services.service import load_catalog, sync_catalog
    from tests.app.conftest import ROOT
    from workers.slo import evaluate_slos

    await conn.execute(
        "INSERT INTO slo_violations (service_id, slo, severity, started_at, threshold) "
        "VALUES ('curp-verifier', 'availability', 'WARNING', $1, 98)",
        T0,
    )
    try:
        await conn.execute(
            "UPDATE services SET is_active = false, updated_at = $1 WHERE id = 'curp-verifier'", T0 + timedelta(hours=2)
        )
        await evaluate_slos(worker_ctx)
        (v,) = await violations(conn, "curp-verifier")
        assert v["ended_at"] == T0 + timedelta(hours=2)
    finally:
        await sync_catalog(conn, load_catalog(ROOT / "services.toml"))
