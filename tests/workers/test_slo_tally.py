"""The SLO figures the incremental evaluation keeps between runs (app/slo/tally.py) against the same
figures from raw rows: after every run, the metrics of every service in the `sla-metrics-updated` events must equal the
report computed from raw rows at the run's instant (app/slo/service.py), and the violations those of
a full evaluation at every run. The histories of tests/workers/test_sweeps.py (late writes up to 25
minutes, writes ahead of the clock, tier, target and maintenance changes, missed runs, a month
boundary), in UTC and in America/New_York; then the cases one at a time."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.encoders import jsonable_encoder

from app.changes import service as changes
from app.ingest.service import ApiCallRow, write_api_calls, write_checks
from app.periods import local_date, month
from app.services import service as services
from app.services.service import load_catalog, sync_catalog
from app.slo import service as slo
from app.slo import tally
from app.slo.evaluation import LOOKBACK
from tests.app.conftest import ROOT
from tests.workers.test_sweeps import JOB_TABLES, MINUTE, START, STATE_TABLES, Step, history, snapshot
from workers.common import EventPublisher
from workers.detection import sweep_detection
from workers.slo import sweep_slos

SID = "face-compare"


class Recording(EventPublisher):
    """The worker's publisher, keeping each service's update of what it publishes."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.events: list[dict[str, Any]] = []

    async def publish(self, event: str, data: dict[str, Any], rooms: list[str]) -> str | None:
        if event == "sla-metrics-updated":
            self.events += data["services"]
        return await super().publish(event, data, rooms)


def shifted(steps: list[Step], by: timedelta) -> list[Step]:
    def move(value):
        return value + by if isinstance(value, datetime) else value

    return [
        Step(
            [r._replace(ts=r.ts + by) for r in s.checks],
            [r._replace(ts=r.ts + by) for r in s.calls],
            [tuple(move(a) for a in statement) for statement in s.sql],
            s.runs,
            s.restart,
        )
        for s in steps
    ]


async def raw_report(conn, settings, sid: str, now: datetime) -> dict:
    today = local_date(now, settings.zone)
    period = month(today.year, today.month, settings.zone)
    report = await slo.report(conn, await services.get(conn, sid), period, now, settings.timezone)
    return jsonable_encoder(report)


async def play(conn, pool, settings, steps: list[Step], start: datetime, *, full: bool) -> tuple[list, int]:
    """Every run's violations; checks every event of the incremental runs against raw rows."""
    await conn.execute(f"TRUNCATE {STATE_TABLES} CASCADE")
    await sync_catalog(conn, load_catalog(ROOT / "services.toml"))
    await conn.execute(f"TRUNCATE {JOB_TABLES}")
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM services")]
    for job in ("slo", "detection"):
        await changes.mark_due(conn, job, ids)
    publisher = Recording(settings)
    ctx = {"settings": settings, "pool": pool, "publisher": publisher, "job_try": 1}
    snapshots, checked = [], 0
    try:
        for m, step in enumerate(steps):
            minute = start + m * MINUTE
            for statement, *args in step.sql:
                await conn.execute(statement, *args)
            if step.checks:
                await write_checks(conn, step.checks, now=minute + timedelta(seconds=5))
            if step.calls:
                await write_api_calls(conn, step.calls, now=minute + timedelta(seconds=59))
            if not step.runs:
                continue
            await sweep_detection(ctx, minute + timedelta(seconds=15), full=full)
            now = minute + timedelta(seconds=45)
            publisher.events.clear()
            await sweep_slos(ctx, now, full=full)
            for event in publisher.events:
                expected = await raw_report(conn, settings, event["serviceId"], now)
                assert event["metrics"] == expected, f"minute {m}: {event['serviceId']}"
                checked += 1
            snapshots.append((await snapshot(conn, minute + timedelta(seconds=50), budgets=False))["violations"])
    finally:
        await publisher.close()
        await sync_catalog(conn, load_catalog(ROOT / "services.toml"))
    return snapshots, checked


@pytest.mark.parametrize(
    ("seed", "zone", "shift"),
    [(1, "UTC", timedelta(0)), (4, "America/New_York", timedelta(hours=4))],  # a month boundary an hour in
)
async def test_kept_figures_equal_raw_figures_after_every_run(conn, pool, settings, seed, zone, shift):
    settings = settings.model_copy(update={"timezone": zone})
    start = START + shift
    today = local_date(start, settings.zone)
    first = month(today.year, today.month, settings.zone)
    assert first.end == start + timedelta(hours=1)
    steps = shifted(history(seed, 100), shift)
    incremental, checked = await play(conn, pool, settings, steps, start, full=False)
    assert checked > 100
    # kept figures were used (advanced, not only recounted), and moved across the boundary
    rows = await conn.fetch("SELECT * FROM slo_tally")
    assert first.end in {r["period_start"] for r in rows}  # (a service left inactive keeps its August)
    assert await conn.fetchval("SELECT count(*) FROM slo_tally_latencies") > 0
    full, _ = await play(conn, pool, settings, steps, start, full=True)
    assert incremental == full


async def run(ctx, now: datetime) -> dict:
    ctx["publisher"].events.clear()
    await sweep_slos(ctx, now)
    return {e["serviceId"]: e["metrics"] for e in ctx["publisher"].events}


@pytest.fixture
async def ctx(pool, settings):
    publisher = Recording(settings)
    yield {"settings": settings, "pool": pool, "publisher": publisher, "job_try": 1}
    await publisher.close()


def calls(start: datetime, minutes: int, seed: int, per_minute: int = 7) -> list[ApiCallRow]:
    rng = random.Random(seed)
    rows = []
    for m in range(minutes):
        for i in range(per_minute):
            ts = start + m * MINUTE + timedelta(seconds=rng.randint(0, 59))
            status = rng.choice((200, 200, 200, 201, 302, 404, 500, 503))
            rows.append(ApiCallRow(ts, SID, "/v1", "GET", status, rng.randint(20, 2000), f"{seed}-{m}-{i}"))
    return rows


async def test_a_late_write_and_a_maintenance_window_added_afterwards(conn, ctx, settings):
    """Calls written an hour late (before the month's kept boundary and the kept buckets), then a
    maintenance window over calls already counted: each run's figures equal the raw ones."""
    start = datetime(2025, 8, 12, 10, 0, tzinfo=timezone.utc)
    await write_api_calls(conn, calls(start, 120, 1), now=start + timedelta(hours=2))
    now = start + timedelta(hours=2, seconds=45)
    for step in range(30):
        await write_api_calls(conn, calls(now - timedelta(seconds=45), 1, 100 + step), now=now)
        if step == 10:  # late: an hour back
            await write_api_calls(conn, calls(now - timedelta(hours=1), 3, 7, per_minute=50), now=now)
        if step == 20:  # maintenance over counted calls (the month's and the buckets')
            await conn.execute(
                "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) "
                "VALUES ('upgrade', $1, $2, $3)",
                [SID],
                now - timedelta(minutes=95),
                now - timedelta(minutes=20),
            )
        figures = await run(ctx, now)
        assert figures[SID] == await raw_report(conn, settings, SID, now), f"step {step}"
        now += MINUTE
    state = await conn.fetchrow("SELECT * FROM slo_tally WHERE service_id = $1", SID)
    assert state["calls_to"] == (now - MINUTE - tally.CALLS_GRACE).replace(second=0)


def test_pick_finds_the_nearest_rank_value_from_a_segment():
    """pick() over a segment of kept latencies and new ones equals sorting everything."""
    rng = random.Random(5)
    for _ in range(300):
        kept = [rng.randint(0, 60) for _ in range(rng.randint(1, 80))]
        extra = [rng.randint(0, 60) for _ in range(rng.randint(0, 10))]
        fraction = rng.choice((0.5, 0.95, 0.99))
        counts: dict[int, int] = {}
        for v in kept:
            counts[v] = counts.get(v, 0) + 1
        ordered = sorted(counts.items())
        value = sorted(kept)[tally.rank(fraction, len(kept)) - 1]
        below = sum(1 for v in kept if v < value)
        limit = len(extra) + 2
        at = [i for i, (v, _) in enumerate(ordered) if v == value][0]
        ups, downs = ordered[at : at + limit], ordered[max(0, at - limit) : at]
        segment = tally.Segment(downs + ups, below - sum(n for _, n in downs), len(downs) < limit, len(ups) < limit)
        new: dict[int, int] = {}
        for v in extra:
            new[v] = new.get(v, 0) + 1
        everything = sorted(kept + extra)
        k = tally.rank(fraction, len(everything))
        found = tally.pick(segment, new, k)
        assert found == (everything[k - 1], sum(1 for v in everything if v < everything[k - 1]))


def test_a_rule_folded_measurement_by_measurement_judges_as_the_whole_series():
    """tally.Run, fed one measurement at a time (and kept as JSON between them), gives alerts.judge's
    verdict over the measurements of the look-back, whatever came before it, while its trailing run
    starts inside the look-back (the worker folds the look-back again otherwise)."""
    from decimal import Decimal

    from app.slo import alerts
    from app.slo.evaluation import service_rules

    rng = random.Random(3)
    rules = service_rules({"tier": "enterprise"})
    start = datetime(2025, 8, 12, tzinfo=timezone.utc)
    exact = 0
    for _ in range(400):
        rule = rng.choice(rules)
        scale = rule.critical if rule.direction == "above" else Decimal(100)
        series = []
        for i in range(rng.randint(0, 60)):
            if rng.random() < 0.15:
                continue  # no measurement in that bucket
            value = None if rng.random() < 0.05 else (scale * Decimal(rng.randint(0, 1300)) / 1000)
            if rule.direction == "below" and value is not None:
                value = min(value, Decimal(100))
            series.append((start + i * alerts.BUCKET, value))
        horizon = start + rng.randint(0, 40) * alerts.BUCKET
        run = tally.Run()
        for bucket, value in series:
            run = tally.Run.load(rule, json.loads(json.dumps(run.dump(rule))))
            assert run is not None
            run.add(rule, bucket, value)
        expected = alerts.judge(rule, [m for m in series if m[0] >= horizon])
        if run.within(horizon):
            exact += 1
            assert run.verdict(rule, horizon) == expected
        again = tally.Run()
        for bucket, value in series:
            if bucket >= horizon:
                again.add(rule, bucket, value)
        assert again.verdict(rule, horizon) == expected
    assert exact > 300
    other = rules[0].__class__(**{**rules[0].__dict__, "warning": Decimal(99)})
    assert tally.Run.load(other, tally.Run().dump(rules[0])) is None  # other thresholds: folded again


async def test_a_violation_longer_than_the_look_back_judged_as_the_full_evaluation(conn, ctx, monkeypatch):
    """Availability at 80 % per measurement for 9 hours (its trailing run reaches back past the 7-hour
    look-back, where the judge cuts it), with latency over the P95 target for the last hours and a
    4xx spike, then clean: each run of the incremental evaluation (a measurement completing every 5
    minutes, the rules judged from the kept folds) leaves the violations the full evaluation leaves."""
    from app.ingest.service import CheckRow

    start = datetime(2025, 8, 12, 6, 0, tzinfo=timezone.utc)
    buckets = 9 * 12 + 4
    plan = []
    for b in range(buckets):
        at = start + b * 5 * MINUTE
        clean = b >= buckets - 2
        ok = [clean or m != 2 for m in range(5)]
        checks = [
            CheckRow(at + m * MINUTE, SID, "default", True, 200, 300)
            if ok[m]
            else CheckRow(at + m * MINUTE, SID, "default", False, 503, 40, "http_error", "503 Service Unavailable")
            for m in range(5)
        ]
        slow = 90 <= b < buckets - 2
        rows = [
            ApiCallRow(
                at + timedelta(seconds=15 * i),
                SID,
                "/v1",
                "GET",
                404 if b == 40 and i < 2 else 200,
                5000 if slow else 100,
                f"{b}-{i}",
            )
            for i in range(20)
        ]
        plan.append((at, checks, rows))

    async def replay(full: bool) -> list:
        await conn.execute(f"TRUNCATE {JOB_TABLES}, slo_violations, checks, api_calls")
        await changes.mark_due(conn, "slo", [r["id"] for r in await conn.fetch("SELECT id FROM services")])
        seen = []
        for at, checks, rows in plan:
            await write_checks(conn, checks, now=at + 5 * MINUTE)
            await write_api_calls(conn, rows, now=at + 5 * MINUTE)
            await sweep_slos(ctx, at + 5 * MINUTE + timedelta(seconds=45), full=full)
            seen.append(
                [
                    tuple(r)
                    for r in await conn.fetch(
                        "SELECT service_id, slo, severity, started_at, ended_at, threshold, worst_value "
                        "FROM slo_violations ORDER BY service_id, slo, started_at"
                    )
                ]
            )
        return seen

    reads: list[int] = []  # the measurements read of the service, per read
    kept_series = tally._kept_series

    async def counting(conn, since, end):
        reads.extend((end - at) // (5 * MINUTE) for sid, at in since.items() if sid == SID)
        return await kept_series(conn, since, end)

    monkeypatch.setattr(tally, "_kept_series", counting)
    incremental = await replay(full=False)
    # the look-back once, then the one measurement that completed at every run, but where the run
    # reached back past the look-back: then folded again over it
    whole = LOOKBACK // (5 * MINUTE)
    assert reads[0] == whole and set(reads) == {1, whole}
    assert reads.count(1) == buckets - 1 and reads.count(whole) > 10
    assert await conn.fetchval("SELECT count(*) FROM slo_tally_runs") > 0
    full = await replay(full=True)
    assert incremental == full
    opened = {(v[1], v[2]) for v in incremental[-3]}
    assert {("availability", "CRITICAL"), ("error_rate_4xx", "WARNING")} <= opened
    assert any(v[1] == "latency_p95" for v in incremental[-3])
    open_at_end = {v[1] for v in incremental[-1] if v[4] is None}
    assert open_at_end <= {"burn_rate_slow"}, open_at_end  # the rules closed by the clean measurements
