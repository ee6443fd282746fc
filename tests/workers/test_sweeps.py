"""The incremental SLO evaluation and detection sweeps (app/slo/sweep.py, app/detection/sweep.py) against
a full evaluation of every service at every run, over the same random histories: slots and API calls
written on time, late, or ahead of the clock, services that go quiet, configuration and maintenance
changes, runs missed and the job restarted, a month boundary. After every run the violations and the
detected incidents (with their timelines) must be the same, and so must the month's error budgets."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.changes import service as changes
from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.periods import month
from app.services import service as services
from app.services.service import load_catalog, sync_catalog
from app.slo import service as slo
from tests.app.conftest import ROOT
from tests.workers.conftest import write_slots
from workers.common import EventPublisher
from workers.detection import sweep_detection
from workers.slo import sweep_slos

MINUTE = timedelta(minutes=1)
SERVICES = ("face-compare", "curp-verifier", "id-liveness")
# The run crosses a month boundary (UTC, the tests' reporting zone) an hour in.
START = datetime(2025, 8, 31, 23, 0, tzinfo=timezone.utc)
MODES = ("ok", "ok", "failing", "flaky", "slow", "quiet")
JOB_TABLES = "job_changes, job_work, job_cursors"
STATE_TABLES = (
    "checks, api_calls, rollup_invalidations, slo_violations, detection_state, incident_updates, incidents, "
    f"maintenance_windows, audit_log, {JOB_TABLES}"
)


@dataclass
class Step:
    """What happens in one minute: rows written (with the minute they are written in), catalog and
    maintenance changes, whether the jobs run and whether they run in a freshly started worker."""

    checks: list[CheckRow] = field(default_factory=list)
    calls: list[ApiCallRow] = field(default_factory=list)
    sql: list[tuple] = field(default_factory=list)
    runs: bool = True
    restart: bool = False


def history(seed: int, minutes: int) -> list[Step]:
    rng = random.Random(seed)
    mode = dict.fromkeys(SERVICES, "ok")
    steps = [Step() for _ in range(minutes + 30)]
    request = 0
    for m in range(minutes):
        step = steps[m]
        slot = START + m * MINUTE
        for sid in SERVICES:
            if rng.random() < 0.08:
                mode[sid] = rng.choice(MODES)
            if mode[sid] == "quiet":
                continue
            failed = mode[sid] == "failing" or (mode[sid] == "flaky" and rng.random() < 0.4)
            latency = rng.choice((300, 8000, 16000)) if mode[sid] == "slow" else rng.randint(50, 900)
            row = (
                CheckRow(slot, sid, "default", False, 503, 40, "http_error", "503")
                if failed
                else CheckRow(slot, sid, "default", True, 200, latency)
            )
            late = rng.random()
            if late < 0.08:  # written late, up to 20 minutes
                steps[m + rng.randint(1, 20)].checks.append(row)
            elif late < 0.12 and m > 0:  # ahead of the clock: written in the minute before its slot
                steps[m - 1].checks.append(row)
            else:
                step.checks.append(row)
            for _ in range(rng.randint(0, 4)):
                request += 1
                status = 503 if failed else rng.choice((200, 200, 200, 200, 404, 500))
                call = ApiCallRow(
                    slot + timedelta(seconds=rng.randint(0, 59)),
                    sid,
                    "/v1/check",
                    "POST",
                    status,
                    latency if not failed else 30,
                    f"r-{request}",
                )
                (steps[m + rng.randint(1, 25)] if rng.random() < 0.05 else step).calls.append(call)
        if rng.random() < 0.04:
            tier = rng.choice(("enterprise_plus", "enterprise", "professional", "developer"))
            step.sql.append(("UPDATE services SET tier = $2 WHERE id = $1", rng.choice(SERVICES), tier))
        if rng.random() < 0.03:
            target = rng.choice((500, 7000, 12000))
            step.sql.append(("UPDATE services SET latency_target_ms = $2 WHERE id = $1", rng.choice(SERVICES), target))
        if rng.random() < 0.03:
            begin = slot + rng.randint(-40, 10) * MINUTE
            step.sql.append(
                (
                    "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) "
                    "VALUES ('upgrade', $1, $2, $3)",
                    [rng.choice(SERVICES)],
                    begin,
                    begin + rng.randint(5, 40) * MINUTE,
                )
            )
        if rng.random() < 0.02:
            toggle = "UPDATE services SET is_active = NOT is_active, updated_at = $2 WHERE id = $1"
            step.sql.append((toggle, rng.choice(SERVICES), slot))
        if rng.random() < 0.05:  # the worker is down for a few minutes, then starts afresh
            for skipped in steps[m : m + rng.randint(1, 4)]:
                skipped.runs = False
            steps[m + 4].restart = True
    return steps[:minutes]


async def snapshot(conn, now: datetime, budgets: bool, states: bool = False) -> dict:
    violations = await conn.fetch(
        "SELECT service_id, slo, severity, started_at, ended_at, threshold, worst_value, details "
        "FROM slo_violations ORDER BY service_id, slo, started_at, ended_at, severity, worst_value"
    )
    incidents = await conn.fetch(
        "SELECT i.detected_service_id, i.cause, i.title, i.description, i.status, i.priority, i.severity, "
        "  array_agg(u.status || ': ' || u.description ORDER BY u.created_at, u.id) AS timeline "
        "FROM incidents i LEFT JOIN incident_updates u ON u.incident_id = i.id "
        "GROUP BY i.id ORDER BY i.detected_service_id, i.cause, i.created_at"
    )
    found = {"violations": [dict(r) for r in violations], "incidents": [dict(r) for r in incidents]}
    if states:  # detection's runs and anchors (the batch against one service at a time)
        found["states"] = [
            dict(r)
            for r in await conn.fetch(
                "SELECT service_id, family, anchor_ts, bad_run, severe_run, good_run, phase, last_action_ts, "
                "incident_id IS NOT NULL AS managing FROM detection_state ORDER BY service_id, family"
            )
        ]
    if budgets:
        period = month(now.year, now.month, ZoneInfo("UTC"))
        found["budgets"] = {}
        for sid in SERVICES:
            report = await slo.report(conn, await services.get(conn, sid), period, now, "UTC")
            found["budgets"][sid] = [(s["slo"], s["errorBudget"], s["events"]) for s in report["slos"]]
    return found


async def play(
    conn, pool, settings, steps: list[Step], *, full: bool, one_by_one: bool = False, states: bool = False
) -> tuple[list[dict], int]:
    """Every run's snapshot, and how many service evaluations the sweeps made (`one_by_one`: detection
    judges each service in its own transaction, the batch's fallback; `states`: snapshots hold its states)."""
    await conn.execute(f"TRUNCATE {STATE_TABLES} CASCADE")
    await sync_catalog(conn, load_catalog(ROOT / "services.toml"))
    await conn.execute(f"TRUNCATE {JOB_TABLES}")
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM services")]
    for job in ("slo", "detection"):  # as the migration leaves them: every service due once
        await changes.mark_due(conn, job, ids)
    snapshots = []
    evaluations = 0
    ctx = None
    try:
        for m, step in enumerate(steps):
            minute = START + m * MINUTE
            for statement, *args in step.sql:
                await conn.execute(statement, *args)
            if step.checks:
                await write_checks(conn, step.checks, now=minute + timedelta(seconds=5))
            if step.calls:
                await write_api_calls(conn, step.calls, now=minute + timedelta(seconds=59))
            if not step.runs:
                continue
            if ctx is None or step.restart:
                if ctx is not None:
                    await ctx["publisher"].close()
                ctx = {"settings": settings, "pool": pool, "publisher": EventPublisher(settings), "job_try": 1}
            found = await sweep_detection(ctx, minute + timedelta(seconds=15), full=full, one_by_one=one_by_one)
            evaluations += len(found)
            evaluations += len(await sweep_slos(ctx, minute + timedelta(seconds=45), full=full))
            snapshots.append(await snapshot(conn, minute + timedelta(seconds=50), budgets=m % 10 == 9, states=states))
    finally:
        if ctx is not None:
            await ctx["publisher"].close()
        await sync_catalog(conn, load_catalog(ROOT / "services.toml"))
    return snapshots, evaluations


@pytest.mark.parametrize("seed", [1, 2])
async def test_incremental_sweeps_equal_a_full_evaluation_after_every_run(conn, pool, settings, seed):
    steps = history(seed, 120)
    incremental, evaluated = await play(conn, pool, settings, steps, full=False)
    full, evaluated_full = await play(conn, pool, settings, steps, full=True)
    assert evaluated < evaluated_full
    assert len(incremental) == len(full)
    for run, (got, expected) in enumerate(zip(incremental, full, strict=True)):
        assert got.keys() == expected.keys()
        for kind in expected:
            extra = [x for x in got[kind] if x not in expected[kind]] if kind != "budgets" else got[kind]
            missing = [x for x in expected[kind] if x not in got[kind]] if kind != "budgets" else expected[kind]
            assert got[kind] == expected[kind], f"run {run}: {kind}: incremental only {extra}, full only {missing}"
    # the histories are not trivial: they open and close violations and incidents
    last = full[-1]
    assert {v["ended_at"] is None for v in last["violations"]} == {True, False}
    assert {i["cause"] for i in last["incidents"]} >= {"failures"}


async def test_detection_of_many_services_at_once_equals_one_service_at_a_time(conn, pool, settings):
    """app/detection/batch.py against service.detect per service (the path of services whose slots call
    for an action, and the sweep's fallback): the same incidents, timelines, runs and anchors."""
    steps = history(3, 90)
    batched, _ = await play(conn, pool, settings, steps, full=True, states=True)
    alone, _ = await play(conn, pool, settings, steps, full=True, one_by_one=True, states=True)
    for run, (got, expected) in enumerate(zip(batched, alone, strict=True)):
        for kind in ("incidents", "states"):
            assert got.get(kind) == expected[kind], f"run {run}: {kind}"
    assert {i["cause"] for i in alone[-1]["incidents"]} >= {"failures"}


async def test_a_run_judges_only_the_services_that_changed_or_are_due(conn, worker_ctx):
    sid = "face-compare"
    now = START + 10 * MINUTE
    await write_slots(conn, sid, START, "." * 10)
    await conn.execute(f"TRUNCATE {JOB_TABLES}")
    # nothing queued, nothing due: nothing judged (the SLO job's first run evaluates every service,
    # as at the start of every month)
    assert await sweep_detection(worker_ctx, now + timedelta(seconds=15)) == {}
    assert len(await sweep_slos(worker_ctx, now + timedelta(seconds=40))) == 5
    assert await sweep_slos(worker_ctx, now + timedelta(seconds=45)) == {}
    await write_slots(conn, sid, now, ".")
    assert list(await sweep_detection(worker_ctx, now + timedelta(seconds=15))) == [sid]
    assert list(await sweep_slos(worker_ctx, now + timedelta(seconds=45))) == [sid]
    # the slot settles before the next run: judged again then (the state's anchor moves over it as a
    # full sweep moves it); its 5-minute measurement completes at 12:15: evaluated again then
    assert list(await sweep_detection(worker_ctx, now + timedelta(minutes=1, seconds=15))) == [sid]
    assert await sweep_detection(worker_ctx, now + timedelta(minutes=2, seconds=15)) == {}
    assert await sweep_slos(worker_ctx, now + timedelta(minutes=1, seconds=45)) == {}
    assert list(await sweep_slos(worker_ctx, now + timedelta(minutes=5, seconds=45))) == [sid]
    assert await sweep_slos(worker_ctx, now + timedelta(minutes=6, seconds=45)) == {}


async def test_an_unsettled_slot_counts_after_a_silence_longer_than_the_catch_up(conn, worker_ctx):
    """A failed slot not settled at its first judgement, then 7 hours of silence, then a failed slot:
    three failures in a row for the full sweep (its anchor passed the second one a minute later), so
    they must be for the incremental one too."""
    sid = "face-compare"
    outcomes = {}
    for full in (False, True):
        await conn.execute(f"TRUNCATE {STATE_TABLES} CASCADE")
        await changes.mark_due(conn, "detection", [sid])
        last = await write_slots(conn, sid, START, "....xx")
        for minute in range(7 * 60):
            await sweep_detection(worker_ctx, last + minute * MINUTE + timedelta(seconds=15), full=full)
        back = last + 7 * 60 * MINUTE
        await write_slots(conn, sid, back, "x")
        assert (await sweep_detection(worker_ctx, back + timedelta(seconds=15), full=full))[sid] == 1
        outcomes[full] = await conn.fetch("SELECT cause, status FROM incidents WHERE detected_service_id = $1", sid)
    assert outcomes[True] == outcomes[False] and [tuple(r) for r in outcomes[True]] == [("failures", "investigating")]
