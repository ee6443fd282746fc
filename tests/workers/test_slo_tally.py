"""The SLO figures the incremental evaluation keeps between runs (app/slo/tally.py) against the same
figures from raw rows: after every run, every `sla-metrics-updated` event's metrics must equal the
report computed from raw rows at the run's instant (app/slo/service.py), and the violations those of
a full evaluation at every run. The histories of tests/workers/test_sweeps.py (late writes up to 25
minutes, writes ahead of the clock, tier, target and maintenance changes, missed runs, a month
boundary), in UTC and in America/New_York; then the cases one at a time."""

from __future__ import annotations

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
from tests.app.conftest import ROOT
from tests.workers.test_sweeps import JOB_TABLES, MINUTE, START, STATE_TABLES, Step, history, snapshot
from workers.common import EventPublisher
from workers.detection import sweep_detection
from workers.slo import sweep_slos

SID = "face-compare"


class Recording(EventPublisher):
    """The worker's publisher, keeping what it publishes."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.events: list[dict[str, Any]] = []

    async def publish(self, event: str, data: dict[str, Any], rooms: list[str]) -> str | None:
        self.events.append(data)
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
