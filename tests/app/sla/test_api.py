"""Every figure of every SLA endpoint against an independent pandas computation from the raw rows
(docs/sla-math.md). The month is cut in Asia/Seoul; data spans both edges; two regions on some days
(majority, ties fail); a monitoring gap; a maintenance window with failures inside; incidents."""

from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.incidents import queries as incident_queries
from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.rollups import service as rollups

ZONE = "Asia/Seoul"
TZ = ZoneInfo(ZONE)
SID = "face-compare"  # enterprise tier: 99.95 %, interval 60 s, target 7000 ms
MONTH_START = datetime(2025, 8, 1, tzinfo=TZ)
MONTH_END = datetime(2025, 9, 1, tzinfo=TZ)
NOW = datetime(2025, 9, 20, tzinfo=timezone.utc)
MAINTENANCE = (datetime(2025, 8, 10, 1, 0, tzinfo=timezone.utc), datetime(2025, 8, 10, 3, 0, tzinfo=timezone.utc))
GAP = (datetime(2025, 8, 20, 0, 0, tzinfo=timezone.utc), datetime(2025, 8, 20, 6, 0, tzinfo=timezone.utc))


def make_checks(rng) -> list[CheckRow]:
    start = MONTH_START - timedelta(days=1)
    minutes = int((MONTH_END - start).total_seconds() // 60) + 24 * 60
    slots = pd.date_range(start.astimezone(timezone.utc), periods=minutes, freq="min")
    fail = rng.random(minutes) < 0.004
    fail[3000:3090] = True  # an outage of 90 minutes
    fail[int((MAINTENANCE[0] - slots[0]).total_seconds() // 60) + 5 :][:30] = True  # failures in maintenance
    latency = rng.lognormal(np.log(400), 0.5, minutes).astype(int)
    latency[5000:5010] = 9000  # slow slots
    rows = []
    for i, ts in enumerate(slots):
        ts = ts.to_pydatetime()
        if GAP[0] <= ts < GAP[1]:
            continue
        ok = not fail[i]
        rows.append(CheckRow(ts, SID, "seoul", ok, 200 if ok else 503, int(latency[i]), None if ok else "http_error"))
        if datetime(2025, 8, 14, tzinfo=timezone.utc) <= ts < datetime(2025, 8, 16, tzinfo=timezone.utc):
            # a second region that disagrees now and then: 1 ok + 1 failed is a tie, and ties fail
            other_ok = ok if i % 97 else not ok
            rows.append(
                CheckRow(
                    ts,
                    SID,
                    "virginia",
                    other_ok,
                    200 if other_ok else 503,
                    int(latency[i]) + 10,
                    None if other_ok else "timeout",
                )
            )
    return rows


def make_calls(rng) -> list[ApiCallRow]:
    n = 30_000
    offsets = rng.uniform(-86400, (MONTH_END - MONTH_START).total_seconds() + 86400, n)
    latency = rng.lognormal(np.log(900), 0.8, n).astype(int)
    status = rng.choice([200, 200, 200, 200, 200, 200, 200, 200, 404, 500, 201], n)
    return [
        ApiCallRow(MONTH_START + timedelta(seconds=float(o)), SID, "/v1/compare", "POST", int(s), int(ms), f"r{i}")
        for i, (o, ms, s) in enumerate(zip(offsets, latency, status))
    ]


INCIDENTS = [  # priority, created, resolved
    ("P1", datetime(2025, 8, 3, 2, 0, tzinfo=timezone.utc), datetime(2025, 8, 3, 4, 15, tzinfo=timezone.utc)),
    ("P2", datetime(2025, 8, 12, 9, 0, tzinfo=timezone.utc), datetime(2025, 8, 13, 10, 30, tzinfo=timezone.utc)),
    ("P3", datetime(2025, 8, 25, 23, 50, tzinfo=timezone.utc), None),
    (
        "P3",
        datetime(2025, 7, 31, 15, 30, tzinfo=timezone.utc),
        datetime(2025, 7, 31, 15, 50, tzinfo=timezone.utc),
    ),  # 00:30 Aug 1 in Seoul
]


@pytest.fixture
async def august(conn):
    rng = np.random.default_rng(42)
    checks, calls = make_checks(rng), make_calls(rng)
    half = len(checks) // 2
    await write_checks(conn, checks[:half], now=NOW)
    await write_api_calls(conn, calls[:15_000], now=NOW)
    # materialise part of it, then write the rest (some of it late, below the watermark)
    await rollups.refresh(conn, ZONE, datetime(2025, 8, 18, tzinfo=timezone.utc))
    await write_checks(conn, checks[half:], now=NOW)
    await write_api_calls(conn, calls[15_000:], now=NOW)
    await write_checks(conn, checks[:1000], now=NOW)  # a replayed batch changes nothing
    await conn.execute(
        "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) VALUES ($1, $2, $3, $4)",
        "DB upgrade",
        [SID],
        *MAINTENANCE,
    )
    for priority, created, resolved in INCIDENTS:
        await conn.fetchval(
            incident_queries.INSERT_AT,
            f"{priority} incident",
            "",
            "resolved" if resolved else "investigating",
            "high",
            priority,
            "모니터링 시스템",
            "연속 3회 실패",
            [SID],
            None,
            created,
            resolved,
        )
    return checks, calls


def oracle_slots(checks: list[CheckRow]) -> pd.DataFrame:
    df = pd.DataFrame(checks, columns=CheckRow._fields).drop_duplicates(["service_id", "ts", "region"])
    slots = df.groupby("ts").agg(n=("ok", "size"), ok_n=("ok", "sum")).reset_index()
    slots["ok"] = slots["ok_n"] * 2 > slots["n"]
    slots["maintenance"] = (slots["ts"] >= MAINTENANCE[0]) & (slots["ts"] < MAINTENANCE[1])
    slots["day"] = slots["ts"].dt.tz_convert(TZ).dt.date
    in_month = (slots["ts"] >= MONTH_START) & (slots["ts"] < MONTH_END)
    return slots[in_month]


def truncated(part: int, whole: int) -> float:
    return float(Decimal(part * 10000 // whole) / 100)


def half_up(x: float | Decimal, places: str = "0.01") -> float:
    return float(Decimal(str(x)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


async def test_availability_matches_pandas(make_client, august):
    checks, _ = august
    slots = oracle_slots(checks)
    judged = slots[~slots["maintenance"]]
    total, ok = len(judged), int(judged["ok"].sum())
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get(f"/api/sla/availability/{SID}?period=monthly&year=2025&month=8")).json()
    m = body["metrics"]
    assert body["period"] == "2025-08" and body["partial"] is False
    assert (m["totalChecks"], m["successfulChecks"], m["failedChecks"]) == (total, ok, total - ok)
    assert m["uptimePercentage"] == truncated(ok, total)
    assert m["downtimeMinutes"] == total - ok
    assert m["totalDowntime"] == f"{(total - ok) // 60}h {(total - ok) % 60}m"
    assert m["maintenanceChecks"] == int(slots["maintenance"].sum())
    assert m["expectedChecks"] == 31 * 1440 - 120
    assert m["coverage"] == round(total / (31 * 1440 - 120), 4)


async def test_response_times_match_pandas(make_client, august):
    _, calls = august
    df = pd.DataFrame(calls, columns=ApiCallRow._fields)
    df = df[(df["ts"] >= MONTH_START) & (df["ts"] < MONTH_END)]
    lat = df["latency_ms"].to_numpy()
    mean = Decimal(int(lat.sum())) / len(lat)
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get(f"/api/sla/response-times/{SID}?period=monthly&year=2025&month=8")).json()
    m = body["metrics"]
    n = len(lat)

    def share(mask):
        count = int(mask.sum())
        return {"count": count, "percentage": half_up(Decimal(count) * 100 / n)}

    assert m["totalRequests"] == n
    assert m["avgResponseTime"] == body["avgResponseTime"] == half_up(mean, "1")
    assert m["slowRequests300"] == share(np.array([Decimal(int(x)) >= 3 * mean for x in lat]))
    assert m["slowRequests500"] == share(np.array([Decimal(int(x)) >= 5 * mean for x in lat]))
    assert m["timeoutRequests"] == share(lat > 7000)
    ordered = np.sort(lat)
    nearest_rank = {f"p{p}": int(ordered[int(np.ceil(p / 100 * n)) - 1]) for p in (50, 95, 99)}
    assert m["percentiles"] == nearest_rank


async def test_usage_matches_pandas(make_client, august):
    _, calls = august
    df = pd.DataFrame(calls, columns=ApiCallRow._fields)
    df = df[(df["ts"] >= MONTH_START) & (df["ts"] < MONTH_END)]
    df["day"] = df["ts"].dt.tz_convert(TZ).dt.date
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get(f"/api/sla/usage/{SID}?period=monthly&year=2025&month=8")).json()
    m = body["metrics"]
    errors = int((df["status_code"] != 200).sum())
    assert (m["totalCalls"], m["successfulCalls"], m["errorCalls"]) == (len(df), len(df) - errors, errors)
    assert m["errorRate"] == half_up(Decimal(errors) * 100 / len(df))
    assert m["clientErrors"] == int(df["status_code"].between(400, 499).sum())
    assert m["serverErrors"] == int(df["status_code"].between(500, 599).sum())
    by_day = df.groupby("day").agg(
        total=("status_code", "size"), success=("status_code", lambda s: int((s == 200).sum()))
    )
    expected = [
        {
            "date": d.isoformat(),
            "total": int(by_day.loc[d, "total"]) if d in by_day.index else 0,
            "success": int(by_day.loc[d, "success"]) if d in by_day.index else 0,
        }
        for d in (date(2025, 8, 1) + timedelta(days=i) for i in range(31))
    ]
    for e in expected:
        e["errors"] = e["total"] - e["success"]
    assert m["dailyStats"] == expected


async def test_incident_stats_match_hand_computation(make_client, august):
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get("/api/sla/incidents/stats?period=monthly&year=2025&month=8")).json()
    assert body["summary"] == {
        "totalIncidents": 4,
        "p1Count": 1,
        "p2Count": 1,
        "p3Count": 2,
        # (2h15m + 25h30m + 20m) / 3 = 9h 21m 40s
        "avgResolutionTime": "9h 21m",
    }
    rows = {r["priority"] + r["createdAt"]: r["resolutionTime"] for r in body["incidents"]}
    assert rows["P1" + "2025-08-03T02:00:00Z"] == "2h 15m"
    assert rows["P2" + "2025-08-12T09:00:00Z"] == "1d 1h 30m"
    assert rows["P3" + "2025-08-25T23:50:00Z"] is None


async def test_uptime_grid_matches_pandas(make_client, august):
    checks, _ = august
    slots = oracle_slots(checks)
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get(f"/api/uptime/{SID}?months=1&startDate=2025-08-01")).json()
    month = body["months"][0]
    judged = slots[~slots["maintenance"]]
    assert month["name"] == "August 2025"
    assert month["uptime"] == f"{truncated(int(judged['ok'].sum()), len(judged)):.2f}"
    expected = []
    for i in range(31):
        day = date(2025, 8, 1) + timedelta(days=i)
        day_slots = judged[judged["day"] == day]
        lo = datetime.combine(day, datetime.min.time(), tzinfo=TZ)
        hi = lo + timedelta(days=1)
        maint_min = max(0, (min(hi, MAINTENANCE[1]) - max(lo, MAINTENANCE[0])).total_seconds() / 60)
        expected_n = 1440 - maint_min
        prios = {p for p, c, r in INCIDENTS if c < hi and (r is None or r > lo)}
        n, ok = len(day_slots), int(day_slots["ok"].sum())
        if n == 0 and not slots[slots["day"] == day]["maintenance"].any():
            status = "nd"
        elif n < 0.9 * expected_n:
            status = "e"
        elif ok * 100 < 95 * n or "P1" in prios:
            status = "mo"
        elif Decimal(ok) * 100 < Decimal("99.95") * n or prios & {"P2", "P3"}:
            status = "po"
        else:
            status = "o"
        expected.append(status)
    assert month["days"] == expected
    assert {"e", "mo", "po"} <= set(expected)  # the data exercises the rules


@pytest.mark.parametrize(
    "url, status, names",
    [
        ("/api/sla/availability/nope?year=2025&month=8", 404, "nope"),
        ("/api/sla/availability/face-compare?year=2025&month=13", 422, "month"),
        ("/api/sla/availability/face-compare?year=2025", 422, "month"),
        ("/api/sla/usage/face-compare?period=weekly", 422, "period"),
        ("/api/sla/response-times/face-compare?year=abc&month=1", 422, "year"),
        ("/api/uptime/face-compare?months=0", 422, "months"),
        ("/api/uptime/face-compare?startDate=2025-02-30", 422, "startDate"),
        ("/api/incidents/past?limit=1000", 422, "limit"),
        ("/api/incidents/nope", 404, "nope"),
        ("/api/sla/incidents/stats?serviceId=nope", 404, "nope"),
    ],
)
async def test_bad_requests_get_a_json_error_naming_the_problem(make_client, url, status, names):
    client = await make_client(now=NOW)
    response = await client.get(url)
    assert response.status_code == status
    body = response.json()
    assert body["error"] in ("not_found", "validation_error")
    assert names in body["message"] or any(names == d.get("field") for d in body.get("details", []))
