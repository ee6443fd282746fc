"""Demo history through the ingest module: minute checks with outages and slow spells, API calls
with a diurnal pattern, incidents with update timelines, a maintenance window."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

import asyncpg

from app.incidents import queries as incident_queries
from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.rollups import service as rollups
from app.services import service as services
from app.slo.definitions import examples

BATCH = 20_000
ENDPOINTS = {
    "id-recognition": "/v1/ocr",
    "face-liveness": "/v1/liveness",
    "id-liveness": "/v1/document-liveness",
    "face-compare": "/v1/compare",
    "curp-verifier": "/v1/curp",
}
# The SLA document's agent API (SLO-003..006, app/slo/definitions/examples.py): (method, endpoint,
# median latency ms, weight); a few calls of every service go there so that the examples have data.
AGENT_ENDPOINTS = (
    ("GET", "/api/v1/agents", 45, 4),
    ("POST", "/api/v1/agents", 220, 1),
    ("POST", "/api/v1/agents/{id}/execute", 450, 3),
    ("GET", "/api/v1/agents/{id}/status", 20, 4),
)
AGENT_CALLS_PER_DAY = 288
INSERT_MAINTENANCE = """
INSERT INTO maintenance_windows (title, description, affected_services, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5)
"""


def _spells(rng: random.Random, start: datetime, minutes: int, count: int, lo: int, hi: int) -> list[tuple[int, int]]:
    spells = []
    for _ in range(count):
        first = rng.randrange(0, max(1, minutes - hi))
        spells.append((first, first + rng.randint(lo, hi)))
    return spells


# (first, last) minute of a spell, counted from the start of the seeded history
Spells = list[tuple[int, int]]


def _in(minute: int, spells: Spells) -> bool:
    return any(a <= minute < b for a, b in spells)


async def seed(
    conn: asyncpg.Connection,
    days: int,
    now: datetime,
    seed_value: int = 7,
    timezone_name: str = "UTC",
    calls_per_day: int = 1500,
) -> str:
    rng = random.Random(seed_value)
    catalog = await services.list_active(conn)
    end = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    start = end - timedelta(days=days)
    minutes = days * 24 * 60
    checks_written = calls_written = 0
    outages: dict[str, Spells] = {}
    slow: dict[str, Spells] = {}
    for svc in catalog:
        sid = svc["id"]
        outages[sid] = _spells(rng, start, minutes, max(1, days // 30), 4, 45)
        slow[sid] = _spells(rng, start, minutes, max(1, days // 20), 5, 25)
        base_ms = rng.uniform(250, 900)
        rows: list[CheckRow] = []
        for minute in range(minutes):
            ts = start + timedelta(minutes=minute)
            if _in(minute, outages[sid]) or rng.random() < 0.0004:
                rows.append(
                    CheckRow(
                        ts, sid, "default", False, 503, rng.randint(5, 80), "http_error", "503 Service Unavailable"
                    )
                )
            elif _in(minute, slow[sid]):
                rows.append(CheckRow(ts, sid, "default", True, 200, rng.randint(7_200, 16_500)))
            else:
                rows.append(CheckRow(ts, sid, "default", True, 200, int(rng.lognormvariate(math.log(base_ms), 0.35))))
            if len(rows) >= BATCH:
                checks_written += (await write_checks(conn, rows, now=now)).accepted
                rows = []
        checks_written += (await write_checks(conn, rows, now=now)).accepted
        calls_written += await _seed_calls(conn, rng, sid, start, days, base_ms, calls_per_day, outages[sid], now)
    incidents = await _seed_incidents(conn, rng, catalog, start, outages, slow, now)
    agents = random.Random(seed_value * 7919 + 1)  # its own sequence: the history above is unchanged
    for svc in catalog:
        calls_written += await _seed_agent_calls(conn, agents, svc["id"], start, days, outages[svc["id"]], now)
    installed = await examples.install(conn)
    await conn.execute(
        INSERT_MAINTENANCE,
        "Database upgrade",
        "Planned PostgreSQL minor upgrade.",
        [catalog[0]["id"]],
        start + timedelta(days=days // 2, hours=2),
        start + timedelta(days=days // 2, hours=2, minutes=30),
    )
    await rollups.refresh(conn, timezone_name, now)
    return (
        f"seeded {days} days: {checks_written} checks, {calls_written} api calls, {incidents} incidents, "
        f"{len(installed)} example SLO definitions"
    )


async def _seed_calls(
    conn: asyncpg.Connection,
    rng: random.Random,
    sid: str,
    start: datetime,
    days: int,
    base_ms: float,
    calls_per_day: int,
    outages: Spells,
    now: datetime,
) -> int:
    written, rows = 0, list[ApiCallRow]()
    endpoint = ENDPOINTS.get(sid, "/v1")
    for day in range(days):
        for _ in range(calls_per_day):
            # diurnal: more calls in the (UTC) afternoon
            hour = min(23.99, max(0.0, rng.gauss(14, 4.5)))
            ts = start + timedelta(days=day, hours=hour)
            if ts >= now:
                continue
            minute = int((ts - start).total_seconds() // 60)
            if _in(minute, outages):
                status = 503
            else:
                status = rng.choices([200, 400, 401, 404, 429, 500], [0.985, 0.004, 0.002, 0.004, 0.002, 0.003])[0]
            latency = int(rng.lognormvariate(math.log(base_ms * 1.2), 0.6))
            rows.append(ApiCallRow(ts, sid, endpoint, "POST", status, latency, f"{sid}-{day}-{len(rows)}"))
            if len(rows) >= BATCH:
                written += (await write_api_calls(conn, rows, now=now)).accepted
                rows = []
    written += (await write_api_calls(conn, rows, now=now)).accepted
    return written


async def _seed_agent_calls(
    conn: asyncpg.Connection, rng: random.Random, sid: str, start: datetime, days: int, outages: Spells, now: datetime
) -> int:
    rows: list[ApiCallRow] = []
    weights = [w for *_, w in AGENT_ENDPOINTS]
    for day in range(days):
        for i in range(AGENT_CALLS_PER_DAY):
            ts = start + timedelta(days=day, seconds=rng.uniform(0, 86_400))
            if ts >= now:
                continue
            method, endpoint, median_ms, _ = rng.choices(AGENT_ENDPOINTS, weights)[0]
            minute = int((ts - start).total_seconds() // 60)
            if _in(minute, outages):
                status = 503
            else:
                status = rng.choices([200, 400, 404, 429, 500, 504], [0.965, 0.015, 0.012, 0.005, 0.002, 0.001])[0]
            if status == 200 and method == "POST" and endpoint == "/api/v1/agents":
                status = 201
            latency = int(rng.lognormvariate(math.log(median_ms), 0.5))
            rows.append(ApiCallRow(ts, sid, endpoint, method, status, latency, f"{sid}-agents-{day}-{i}"))
    written = 0
    for first in range(0, len(rows), BATCH):
        written += (await write_api_calls(conn, rows[first : first + BATCH], now=now)).accepted
    return written


async def _seed_incidents(
    conn: asyncpg.Connection,
    rng: random.Random,
    catalog: list[asyncpg.Record],
    start: datetime,
    outages: dict[str, Spells],
    slow: dict[str, Spells],
    now: datetime,
) -> int:
    count = 0
    for svc in catalog:
        sid, name = svc["id"], svc["name"]
        for first, last in outages[sid][:1]:
            began = start + timedelta(minutes=first + 3)
            resolved = start + timedelta(minutes=last + 20)
            await _incident(
                conn,
                f"{name} 서비스 완전 중단",
                f"{name} 서비스가 응답하지 않습니다.",
                "critical",
                "P1",
                "모니터링 시스템",
                "연속 3회 실패",
                [sid],
                "failures",
                began,
                resolved,
                [
                    ("identified", "원인을 데이터베이스 연결 풀 부족으로 식별했습니다.", 15),
                    ("monitoring", "연결 풀 크기를 50에서 100으로 늘리고 모니터링 중입니다.", 30),
                ],
            )
            count += 1
        for first, last in slow[sid][:1]:
            began = start + timedelta(minutes=first + 3)
            await _incident(
                conn,
                f"{name} 응답 지연",
                "응답 시간이 7초를 넘고 있습니다.",
                "medium",
                "P3",
                "모니터링 시스템",
                "연속 3회 7초 초과 응답시간",
                [sid],
                "latency",
                began,
                start + timedelta(minutes=last + 10),
                [("identified", "트래픽 급증으로 확인했습니다.", 8)],
            )
            count += 1
    return count


async def _incident(
    conn: asyncpg.Connection,
    title: str,
    description: str,
    severity: str,
    priority: str,
    reporter: str,
    criteria: str,
    services_: list[str],
    cause: str,
    began: datetime,
    resolved: datetime,
    steps: list[tuple[str, str, int]],
) -> None:
    async with conn.transaction():
        incident_id = await conn.fetchval(
            incident_queries.INSERT_AT,
            title,
            description,
            "resolved",
            severity,
            priority,
            reporter,
            criteria,
            services_,
            cause,
            began,
            resolved,
        )
        await conn.execute(
            incident_queries.INSERT_UPDATE_AT, incident_id, "investigating", "조사 중입니다.", reporter, began
        )
        for status, note, after_min in steps:
            at = min(began + timedelta(minutes=after_min), resolved)
            await conn.execute(incident_queries.INSERT_UPDATE_AT, incident_id, status, note, reporter, at)
        await conn.execute(
            incident_queries.INSERT_UPDATE_AT, incident_id, "resolved", "해결되었습니다.", reporter, resolved
        )
