"""The month close computes its reports many services at a time (figures.compute_many, CLOSE_BATCH per
snapshot): every frozen report must equal, byte for byte, what the live readers give for that service
alone (the report read before the close, and /api/sla/*'s figures), whichever batch it fell in.
Data: November 2025 in America/New_York (its 25-hour day, Nov 2), four services of different tiers,
a maintenance window shared by two of them inside the repeated hour, another of one service alone,
incidents affecting one or several services (one acknowledged), SLO violations, and a service added
in the middle of the month (rows only from then on)."""

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pydantic import BaseModel

from app.incidents import queries as incident_queries
from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.periods import month
from app.reports import service as reports
from app.rollups import service as rollups
from app.sla import service as sla

ZONE = "America/New_York"
TZ = ZoneInfo(ZONE)
NOVEMBER = month(2025, 11, TZ)
NOW = datetime(2025, 12, 10, tzinfo=timezone.utc)
SERVICES = ("face-compare", "face-liveness", "id-liveness", "curp-verifier")  # enterprise, professional x2, developer
ADDED = "curp-verifier"
ADDED_AT = datetime(2025, 11, 15, 12, 0, tzinfo=TZ)
DENSE_DAYS = {date(2025, 11, d) for d in (1, 2, 3, 15, 16)}  # a slot a minute; every 10 minutes otherwise
SHARED_MAINTENANCE = (
    datetime(2025, 11, 2, 5, 30, tzinfo=timezone.utc),
    datetime(2025, 11, 2, 6, 30, tzinfo=timezone.utc),
)
OWN_MAINTENANCE = (
    datetime(2025, 11, 20, 14, 0, tzinfo=timezone.utc),
    datetime(2025, 11, 20, 16, 0, tzinfo=timezone.utc),
)


def make_rows(rng) -> tuple[list[CheckRow], list[ApiCallRow]]:
    checks: list[CheckRow] = []
    calls: list[ApiCallRow] = []
    start = NOVEMBER.start - timedelta(days=1)
    minutes = int((NOVEMBER.end - start).total_seconds() // 60) + 1440
    for k, sid in enumerate(SERVICES):
        fail = rng.random(minutes) < 0.01 * (k + 1)
        latency = rng.lognormal(np.log(200 + 100 * k), 0.6, minutes).astype(int)
        for i in range(minutes):
            ts = start + timedelta(minutes=i)
            if sid == ADDED and ts < ADDED_AT:
                continue
            if i % 10 and ts.astimezone(TZ).date() not in DENSE_DAYS:
                continue
            # an outage in the repeated hour of Nov 2 (01:00-02:00 twice) for the first two services
            ok = not fail[i] and not (
                k < 2 and SHARED_MAINTENANCE[0] <= ts < SHARED_MAINTENANCE[1] + timedelta(minutes=20)
            )
            checks.append(
                CheckRow(ts, sid, "virginia", ok, 200 if ok else 503, int(latency[i]), None if ok else "http_error")
            )
        n = 3000
        offsets = rng.uniform(-86400, (NOVEMBER.end - NOVEMBER.start).total_seconds() + 86400, n)
        call_ms = rng.lognormal(np.log(300 + 200 * k), 0.8, n).astype(int)
        status = rng.choice([200, 200, 200, 200, 200, 200, 201, 404, 500], n)
        for i, (o, ms, s) in enumerate(zip(offsets, call_ms, status)):
            ts = NOVEMBER.start + timedelta(seconds=float(o))
            if sid == ADDED and ts < ADDED_AT:
                continue
            calls.append(ApiCallRow(ts, sid, "/v1/x", "POST", int(s), int(ms), f"{sid}-{i}"))
    return checks, calls


async def add_incident(conn, priority: str, services: list[str], created: datetime, resolved: datetime | None) -> str:
    return await conn.fetchval(
        incident_queries.INSERT_AT,
        f"{priority} incident",
        "",
        "resolved" if resolved else "investigating",
        "high",
        priority,
        "monitoring",
        "3 failed checks",
        services,
        None,
        created,
        resolved,
    )


@pytest.fixture
async def november(conn):
    checks, calls = make_rows(np.random.default_rng(18))
    half = len(checks) // 2
    await write_checks(conn, checks[:half], now=NOW)
    await write_api_calls(conn, calls[: len(calls) // 2], now=NOW)
    await rollups.refresh(conn, ZONE, datetime(2025, 11, 10, tzinfo=timezone.utc))
    await write_checks(conn, checks[half:], now=NOW)  # partly below the watermark
    await write_api_calls(conn, calls[len(calls) // 2 :], now=NOW)
    for title, services, (starts, ends) in (
        ("Shared database", list(SERVICES[:2]), SHARED_MAINTENANCE),
        ("Storage", [SERVICES[2]], OWN_MAINTENANCE),
    ):
        await conn.execute(
            "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) VALUES ($1, $2, $3, $4)",
            title,
            services,
            starts,
            ends,
        )
    p1 = await add_incident(
        conn,
        "P1",
        list(SERVICES[:3]),
        datetime(2025, 11, 2, 6, 40, tzinfo=timezone.utc),
        datetime(2025, 11, 2, 8, 0, tzinfo=timezone.utc),
    )
    await conn.execute(
        "INSERT INTO escalation_log (incident_id, at, action, actor) VALUES ($1, $2, 'acknowledged', 'kim')",
        p1,
        datetime(2025, 11, 2, 6, 52, tzinfo=timezone.utc),
    )
    await add_incident(conn, "P2", [SERVICES[1]], datetime(2025, 11, 12, 9, 0, tzinfo=timezone.utc), None)
    await add_incident(
        conn,
        "P3",
        [ADDED, SERVICES[0]],
        datetime(2025, 11, 20, 3, 0, tzinfo=timezone.utc),
        datetime(2025, 11, 20, 5, 30, tzinfo=timezone.utc),
    )
    for sid, slo, started, ended in (
        (
            SERVICES[0],
            "availability",
            datetime(2025, 11, 2, 6, 0, tzinfo=timezone.utc),
            datetime(2025, 11, 2, 7, 0, tzinfo=timezone.utc),
        ),
        (ADDED, "latency_p95", datetime(2025, 11, 28, tzinfo=timezone.utc), None),
        (
            SERVICES[2],
            "error_rate",
            datetime(2025, 10, 31, 23, 0, tzinfo=timezone.utc),
            datetime(2025, 11, 1, 6, 0, tzinfo=timezone.utc),
        ),
    ):
        await conn.execute(
            "INSERT INTO slo_violations (service_id, slo, severity, started_at, ended_at, threshold) "
            "VALUES ($1, $2, 'CRITICAL', $3, $4, 99.9)",
            sid,
            slo,
            started,
            ended,
        )
    before = await conn.fetchval("SELECT created_at FROM services WHERE id = $1", ADDED)
    await conn.execute("UPDATE services SET created_at = $2 WHERE id = $1", ADDED, ADDED_AT)
    try:
        yield checks
    finally:
        await conn.execute("UPDATE services SET created_at = $2 WHERE id = $1", ADDED, before)


def as_json(record: BaseModel) -> dict:
    """An SLA reader's record as /api/sla/* answers it."""
    return json.loads(record.model_dump_json(by_alias=True))


def without_meta(document: dict) -> str:
    return json.dumps({k: v for k, v in document.items() if k != "report"}, ensure_ascii=False, sort_keys=False)


async def test_batched_close_freezes_what_the_live_readers_give(conn, november, monkeypatch):
    services = {sid: await conn.fetchrow("SELECT * FROM services WHERE id = $1", sid) for sid in SERVICES}
    live = {sid: await reports.get(conn, services[sid], NOVEMBER, NOW, ZONE) for sid in SERVICES}
    assert all(doc["report"]["status"] == "provisional" for doc in live.values())

    monkeypatch.setattr(reports, "CLOSE_BATCH", 3)  # the four services in two batches
    # the audit entries this close writes: those after the session's earlier tests' (tests/app/sla close months too)
    audited_before = await conn.fetchval("SELECT coalesce(max(id), 0) FROM audit_log")
    written = await reports.close_month(conn, NOVEMBER, NOW, ZONE)
    # Only these four have rows in November; the catalog's other services were created after it.
    assert sorted(written) == sorted(SERVICES)

    for sid in SERVICES:
        frozen = await reports.get(conn, services[sid], NOVEMBER, NOW, ZONE)
        assert frozen["report"]["status"] == "final" and frozen["report"]["revision"] == 1
        assert without_meta(frozen) == without_meta(live[sid]), sid
        stored = await conn.fetchval(
            "SELECT figures::text FROM report_snapshots WHERE service_id = $1 AND month = $2", sid, NOVEMBER.first_day
        )
        live_figures = {k: v for k, v in live[sid].items() if k not in ("report", "dataSources")}
        assert stored == json.dumps(live_figures, ensure_ascii=False, separators=(",", ":")), sid

        # and each section equals the SLA reader of that service alone
        report = frozen
        availability = await sla.availability(conn, services[sid], NOVEMBER, NOW, ZONE)
        assert {k: v for k, v in report["availability"].items() if k != "daily"} == as_json(availability.metrics)
        response = await sla.response_times(conn, services[sid], NOVEMBER, NOW)
        assert {k: v for k, v in report["responseTimes"].items() if k not in ("daily", "targetThreshold")} == as_json(
            response.metrics
        )
        assert report["responseTimes"]["targetThreshold"] == response.target_threshold
        usage = await sla.usage(conn, services[sid], NOVEMBER, NOW, ZONE)
        assert report["usage"] == as_json(usage.metrics)
        stats = await sla.incident_stats(conn, NOVEMBER, NOW, sid)
        assert report["incidents"]["summary"] == as_json(stats.summary)
        assert report["incidents"]["incidents"] == [as_json(row) for row in stats.incidents]

    closed = await conn.fetch(
        "SELECT target_id FROM audit_log WHERE action = 'report.closed' AND actor_name = 'month close' AND id > $1"
        " ORDER BY id",
        audited_before,
    )
    assert sorted(r["target_id"] for r in closed) == sorted(f"{sid}/2025-11" for sid in SERVICES)
    assert await reports.close_month(conn, NOVEMBER, NOW, ZONE) == []


async def test_batched_figures_against_the_raw_rows(conn, november):
    """The DST day, the maintenance windows and the added service, counted from the raw rows."""
    checks = november
    services = [await conn.fetchrow("SELECT * FROM services WHERE id = $1", sid) for sid in SERVICES]
    figures = await reports.report_figures.compute_many(conn, services, NOVEMBER, NOW, ZONE)
    assert figures["face-compare"]["period"]["minutes"] == 30 * 1440 + 60  # Nov 2 has 25 hours
    windows = {
        SERVICES[0]: [SHARED_MAINTENANCE],
        SERVICES[1]: [SHARED_MAINTENANCE],
        SERVICES[2]: [OWN_MAINTENANCE],
        ADDED: [],
    }
    for sid in SERVICES:
        mine = [c for c in checks if c.service_id == sid and NOVEMBER.start <= c.ts < NOVEMBER.end]
        inside = [c for c in mine if any(lo <= c.ts < hi for lo, hi in windows[sid])]
        judged = [c for c in mine if c not in inside]
        availability = figures[sid]["availability"]
        assert availability["totalChecks"] == len(judged), sid
        assert availability["successfulChecks"] == sum(c.ok for c in judged), sid
        assert availability["maintenanceChecks"] == len(inside), sid
        daily = {d["date"]: d for d in availability["daily"]}
        dst = [c for c in judged if c.ts.astimezone(TZ).date() == date(2025, 11, 2)]
        assert daily["2025-11-02"]["totalChecks"] == len(dst), sid
        assert [m["title"] for m in figures[sid]["maintenance"]] == {
            SERVICES[0]: ["Shared database"],
            SERVICES[1]: ["Shared database"],
            SERVICES[2]: ["Storage"],
            ADDED: [],
        }[sid]
    # one slot a minute over the 25 hours of Nov 2 (this service is not in the shared window)
    assert figures[SERVICES[3]]["availability"]["daily"][1]["totalChecks"] == 0  # not added yet
    assert daily_total(figures[SERVICES[2]], "2025-11-02") == 25 * 60
    added = figures[ADDED]
    assert all(d["totalChecks"] == 0 for d in added["availability"]["daily"] if d["date"] < "2025-11-15")
    assert added["usage"]["totalCalls"] > 0 and all(
        d["total"] == 0 for d in added["usage"]["dailyStats"] if d["date"] < "2025-11-15"
    )
    assert [i["priority"] for i in added["incidents"]["incidents"]] == ["P3"]
    assert [i["priority"] for i in figures[SERVICES[0]]["incidents"]["incidents"]] == ["P1", "P3"]
    assert figures[SERVICES[0]]["incidents"]["byPriority"]["P1"]["meanTimeToAcknowledgeSeconds"] == 720
    assert [v["slo"] for v in figures[SERVICES[2]]["slo"]["violations"]] == ["error_rate"]
    assert [v["slo"] for v in added["slo"]["violations"]] == ["latency_p95"]


def daily_total(report: dict, day: str) -> int:
    return next(d["totalChecks"] for d in report["availability"]["daily"] if d["date"] == day)
