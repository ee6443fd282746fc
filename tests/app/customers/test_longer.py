"""A customer's statement beyond the month (admin): a quarter's figures equal an independent pandas
computation from the raw rows (slot-weighted availability over the covered services, nearest-rank
P95 per service over the quarter's calls), in UTC and New York; the quarter equals the combination of
its monthly statements (slots summed, availability truncated from the sums); credits stay monthly:
one row per month, as that month's statement states it, and their sum. Bad periods: 422 naming the
parameter."""

import math
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app import deps
from app.periods import month
from app.reports import service as reports
from tests.app.customers.test_credits import NOW, SERVICES, make_calls, make_checks, seed

BASE = "/api/customers/acme/statements"
Q1 = "period=quarterly&year=2025&quarter=1"


@pytest.fixture(params=["UTC", "America/New_York"])
async def quarter(request, customers_staff, make_app):
    staff, zone = customers_staff, request.param
    await seed(staff.conn, zone, "EUR", "12345.67")
    await reports.close_month(staff.conn, month(2025, 3, ZoneInfo(zone)), NOW, zone)
    app, client = make_app(timezone=zone)
    app.dependency_overrides[deps.clock] = lambda: NOW
    staff.client, staff.app = client(), app
    return staff, zone


def oracle(zone: str) -> dict:
    """Q1 2025 from the rows the seed wrote (the same generator, the same seed)."""
    tz = ZoneInfo(zone)
    rng = np.random.default_rng(7)
    checks = pd.DataFrame(make_checks(rng, tz))
    calls = pd.DataFrame(make_calls(rng, tz))
    start = pd.Timestamp(datetime(2025, 1, 1, tzinfo=tz)).tz_convert("UTC")
    end = pd.Timestamp(datetime(2025, 4, 1, tzinfo=tz)).tz_convert("UTC")
    for frame in (checks, calls):
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    checks = checks[(checks.ts >= start) & (checks.ts < end)]
    calls = calls[(calls.ts >= start) & (calls.ts < end)]
    p95 = {}
    for sid, group in calls.groupby("service_id"):
        values = np.sort(group.latency_ms.to_numpy())
        p95[sid] = int(values[math.ceil(0.95 * len(values)) - 1])
    ok, total = int(checks.ok.sum()), len(checks)
    return {
        "totalChecks": total,
        "successfulChecks": ok,
        "availabilityPercent": float((Decimal(ok) * 100 / total).quantize(Decimal("0.01"), rounding=ROUND_DOWN)),
        "totalRequests": len(calls),
        "p95": p95,
    }


async def test_quarter_statement_matches_pandas_and_its_months(quarter):
    staff, zone = quarter
    admin = await staff.headers("admin")
    r = await staff.client.get(f"{BASE}.json?{Q1}", headers=admin)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["statement"]["status"] == "computed" and doc["statement"]["month"] == "2025-Q1"
    assert doc["period"]["label"] == "2025-Q1"
    assert doc["period"]["minutes"] == 90 * 1440 - (60 if zone == "America/New_York" else 0)
    expected = oracle(zone)
    summary = doc["summary"]
    for key in ("totalChecks", "successfulChecks", "availabilityPercent", "totalRequests"):
        assert summary[key] == expected[key], key
    assert {s["id"]: s["responseTimes"]["percentiles"]["p95"] for s in doc["services"]} == expected["p95"]

    months = []
    for number in (1, 2, 3):
        m = await staff.client.get(f"{BASE}/2025-{number:02d}.json", headers=admin)
        assert m.status_code == 200, m.text
        months.append(m.json())
    for key in ("totalChecks", "successfulChecks", "failedChecks", "totalRequests"):
        assert summary[key] == sum(m["summary"][key] for m in months), key
    for index, sid in enumerate(SERVICES):
        assert doc["services"][index]["id"] == sid
        assert doc["services"][index]["availability"]["totalChecks"] == sum(
            m["services"][index]["availability"]["totalChecks"] for m in months
        )

    credits = doc["credits"]
    assert [c["month"] for c in credits["months"]] == ["2025-01", "2025-02", "2025-03"]
    for row, m in zip(credits["months"], months):
        assert (row["status"], row["revision"], row["amount"], row["totalPercent"]) == (
            m["statement"]["status"],
            m["statement"]["revision"],
            m["credits"]["amount"],
            m["credits"]["totalPercent"],
        )
    assert credits["months"][2]["status"] == "final"  # March is closed: its frozen revision
    assert credits["amount"] == str(sum(Decimal(c["amount"]) for c in credits["months"]))
    assert credits["currency"] == "EUR" and "monthly" in credits["basis"]


async def test_quarter_statement_renders_credits_by_month(quarter):
    staff, _ = quarter
    admin = await staff.headers("admin")
    r = await staff.client.get(f"{BASE}.html?{Q1}&lang=en", headers=admin)
    assert r.status_code == 200 and "Service statement: ACME · 2025-Q1" in r.text
    assert "Service credit by month" in r.text and "Computed from the monitoring data" in r.text
    r = await staff.client.get(f"{BASE}.csv?{Q1}", headers=admin)
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
    assert 'filename="statement-acme-2025-Q1-computed.csv"' in r.headers["content-disposition"]
    # a calendar month through the same route is the monthly statement
    r = await staff.client.get(f"{BASE}.json?period=monthly&year=2025&month=3", headers=admin)
    assert r.json()["statement"]["status"] == "final" and r.json()["credits"]["amount"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=quarterly&year=2025", "quarter"),
        ("period=yearly&year=2025&month=3", "month"),
        ("period=range&start=2025-01-01&end=2026-01-02", "end"),
        ("period=quarterly&year=2025&quarter=3", "quarter"),  # not begun at NOW (2025-04-20)
        ("period=yearly&year=2026", "year"),
    ],
)
async def test_bad_periods_are_422_naming_the_parameter(customers_staff, make_app, query, field):
    staff = customers_staff
    await seed(staff.conn, "UTC", "EUR", "100")
    app, client = make_app()
    app.dependency_overrides[deps.clock] = lambda: NOW
    r = await client().get(f"{BASE}.json?{query}", headers=await staff.headers("admin"))
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["details"]] == [field]
