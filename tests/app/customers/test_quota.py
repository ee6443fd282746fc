"""A statement's API requests against the tier's daily request quota (docs/sla-math.md, Customers),
against pandas over the raw calls: days cut in the reporting zone (UTC, and New York, whose 9 March
2025 lasts 23 hours), the busiest day, its share of the quota, and the days above it (calls > quota:
1,001 is above a quota of 1,000, 1,000 is not). Unlimited tiers have no share and no day above."""

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.customers import statements
from app.customers.service import get as get_customer
from app.ingest.service import ApiCallRow, write_api_calls
from app.periods import month
from tests.app.customers.test_credits import NOW, SERVICES, make_calls, make_checks, seed

DEVELOPER_QUOTA = 1_000  # seeds/002, Tier 4: "API 요청: 1,000/일"


def busy_days(zone: ZoneInfo) -> list[ApiCallRow]:
    """1,001 calls of curp-verifier spread over the local 9 March (elapsed time), 1,000 over the 10th."""
    rows = []
    for day, n in ((9, 1_001), (10, 1_000)):
        start = datetime(2025, 3, day, tzinfo=zone).astimezone(timezone.utc)
        length = datetime(2025, 3, day + 1, tzinfo=zone).astimezone(timezone.utc) - start
        rows += [
            ApiCallRow(start + length * i / n, "curp-verifier", "/v1", "GET", 200, 50, f"quota-{day}-{i}")
            for i in range(n)
        ]
    return rows


def oracle(zone: ZoneInfo, calls: list[ApiCallRow], quota: int | None) -> dict[str, dict]:
    frame = pd.DataFrame(calls, columns=ApiCallRow._fields)
    frame["day"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(zone).dt.date.astype(str)
    days = [d.date().isoformat() for d in pd.date_range("2025-03-01", "2025-03-31", freq="D")]
    expected = {}
    for sid in SERVICES:
        counts = frame[frame.service_id == sid].groupby("day").size().reindex(days, fill_value=0)
        peak = int(counts.max())
        peak_day = str(counts.idxmax()) if peak else None  # idxmax: the first of equals
        share = None
        if peak and quota is not None:
            share = float((Decimal(peak) * 100 / quota).quantize(Decimal("0.01"), ROUND_HALF_UP))
        over = [] if quota is None else [d for d, n in counts.items() if n > quota]
        expected[sid] = {
            "dailyRequests": quota,
            "peakDay": peak_day,
            "peakRequests": peak,
            "peakPercentOfQuota": share,
            "daysOverQuota": len(over),
            "datesOverQuota": over,
        }
    return expected


@pytest.mark.parametrize("zone_name", ["UTC", "America/New_York"])
@pytest.mark.parametrize(("tier", "quota"), [("developer", DEVELOPER_QUOTA), ("enterprise_plus", None)])
async def test_usage_against_the_daily_quota_equals_pandas(customers_db, zone_name, tier, quota):
    conn, zone = customers_db, ZoneInfo(zone_name)
    await seed(conn, zone_name, "EUR", "1000.00")
    await conn.execute("UPDATE customers SET tier = $1", tier)
    extra = busy_days(zone)
    await write_api_calls(conn, extra, now=NOW)
    rng = np.random.default_rng(7)  # the seed's rows, drawn again in the seed's order
    make_checks(rng, zone)
    expected = oracle(zone, make_calls(rng, zone) + extra, quota)
    if quota is not None:  # the data can fail the test: one day just above the quota, one at it
        assert expected["curp-verifier"]["datesOverQuota"] == ["2025-03-09"]

    period = month(2025, 3, zone)
    doc = await statements.compute(conn, await get_customer(conn, "acme"), period, NOW, zone_name)
    assert {s["id"]: s["quota"] for s in doc["services"]} == expected
    assert doc["summary"]["dailyRequestQuota"] == quota
    assert doc["summary"]["servicesOverQuota"] == sum(1 for e in expected.values() if e["daysOverQuota"])
