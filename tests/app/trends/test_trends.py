"""Usage trends against pandas from the raw call rows: monthly and daily counts, error rates, nearest-rank
P95, month-over-month growth, and the linear forecast recomputed with numpy."""

from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.ingest.service import ApiCallRow, write_api_calls
from app.periods import month
from app.reports import service as reports

ZONE = "Asia/Seoul"
TZ = ZoneInfo(ZONE)
SID = "id-liveness"
NOW = datetime(2025, 9, 16, 3, 0, tzinfo=timezone.utc)  # Sept 16 12:00 in Seoul
FIRST = datetime(2025, 4, 1, tzinfo=TZ)  # no calls before April: March is an empty month of the window


def make_calls(rng) -> list[ApiCallRow]:
    rows, n = [], 0
    start = FIRST
    for index in range(6):  # April .. September (partial)
        end = datetime(2025, 4 + index + 1, 1, tzinfo=TZ)
        span = (min(end, NOW) - start).total_seconds()
        count = int((800 + 350 * index + rng.integers(0, 200)) * span / (end - start).total_seconds())
        offsets = np.sort(rng.uniform(0, span, count))
        latency = rng.lognormal(np.log(300 + 40 * index), 0.6, count).astype(int)
        status = rng.choice([200] * 30 + [201, 404, 429, 500, 503], count)
        for o, lat, st in zip(offsets, latency, status):
            rows.append(
                ApiCallRow(start + timedelta(seconds=float(o)), SID, "/v1/liveness", "POST", int(st), int(lat), f"t{n}")
            )
            n += 1
        start = end
    return rows


@pytest.fixture
async def calls(conn):
    rows = make_calls(np.random.default_rng(5))
    await write_api_calls(conn, rows, now=NOW)
    # June is closed: its P95 is then read from the frozen report.
    await reports.close_month(conn, month(2025, 6, TZ), NOW, ZONE)
    return rows


def half_up(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def nearest_rank_p95(values) -> int | None:
    ordered = np.sort(np.asarray(values))
    return None if len(ordered) == 0 else int(ordered[int(np.ceil(0.95 * len(ordered))) - 1])


async def test_trends_match_pandas(calls, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    response = await client.get(f"/api/usage/trends/{SID}?months=7")
    assert response.status_code == 200, response.text
    body = response.json()
    df = pd.DataFrame(calls, columns=ApiCallRow._fields)
    local = df["ts"].dt.tz_convert(TZ)
    df["month"], df["day"] = local.dt.strftime("%Y-%m"), local.dt.date
    df["error"] = df["status_code"] != 200
    labels = ["2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09"]
    assert [m["month"] for m in body["monthly"]] == labels
    previous = None
    for row in body["monthly"]:
        part = df[df["month"] == row["month"]]
        n, errors = len(part), int(part["error"].sum())
        assert (row["calls"], row["errorCalls"], row["successfulCalls"]) == (n, errors, n - errors), row["month"]
        assert row["clientErrors"] == int(part["status_code"].between(400, 499).sum())
        assert row["serverErrors"] == int(part["status_code"].between(500, 599).sum())
        assert row["errorRate"] == (half_up(Decimal(errors) * 100 / n) if n else 0.0)
        assert row["p95LatencyMs"] == nearest_rank_p95(part["latency_ms"])
        assert row["partial"] == (row["month"] == "2025-09")
        if row["partial"]:
            elapsed = (NOW - datetime(2025, 9, 1, tzinfo=TZ)) / timedelta(days=30)
            assert row["growthPercent"] is None and row["projectedCalls"] == int(round(n / elapsed))
        elif previous:
            assert row["growthPercent"] == round((n - previous) / previous * 100, 2)
        else:
            assert row["growthPercent"] is None
        previous = n
    days = pd.date_range("2025-03-01", "2025-09-16").date
    assert [d["date"] for d in body["daily"]] == [d.isoformat() for d in days]
    for row in body["daily"]:
        part = df[df["day"] == date.fromisoformat(row["date"])]
        assert (row["calls"], row["errorCalls"]) == (len(part), int(part["error"].sum())), row["date"]
        assert row["p95LatencyMs"] == nearest_rank_p95(part["latency_ms"]), row["date"]

    complete = [m for m in body["monthly"] if not m["partial"] and m["month"] >= "2025-04"]
    y = np.array([m["calls"] for m in complete], dtype=float)
    slope, intercept = np.polyfit(np.arange(len(y)), y, 1)
    f = body["forecast"]
    assert f["basedOn"] == ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08"]
    assert "least-squares" in f["method"] and f["slopeCallsPerMonth"] == round(slope, 2)
    assert f["months"] == [
        {"month": m, "calls": max(0, int(round(slope * i + intercept)))}
        for i, m in zip(range(5, 9), ["2025-09", "2025-10", "2025-11", "2025-12"])
    ]
    assert slope > 250  # the data grows ~350 calls a month


async def test_june_p95_survives_its_raw_rows(calls, conn, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    before = (await client.get(f"/api/usage/trends/{SID}?months=4")).json()
    await conn.execute("DELETE FROM api_calls WHERE ts < $1", datetime(2025, 7, 1, tzinfo=TZ))
    after = (await client.get(f"/api/usage/trends/{SID}?months=4")).json()
    june = lambda body: next(m for m in body["monthly"] if m["month"] == "2025-06")  # noqa: E731
    assert june(after)["p95LatencyMs"] == june(before)["p95LatencyMs"] is not None


async def test_a_service_without_calls_has_zeros_and_no_forecast(conn, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get("/api/usage/trends/face-compare?months=3")).json()
    assert [m["calls"] for m in body["monthly"]] == [0, 0, 0]
    assert body["forecast"]["months"] == [] and "fewer than 2" in body["forecast"]["note"]


@pytest.mark.parametrize(
    "url, status, name",
    [
        ("/api/usage/trends/nope", 404, "nope"),
        ("/api/usage/trends/face-compare?months=2", 422, "months"),
        ("/api/usage/trends/face-compare?months=25", 422, "months"),
    ],
)
async def test_bad_trend_requests_name_the_parameter(make_client, url, status, name):
    response = await (await make_client(now=NOW)).get(url)
    assert response.status_code == status
    body = response.json()
    assert name in body["message"] or any(name == d.get("field") for d in body.get("details", []))
