"""A customer's availability and credit against an independent computation from the raw rows
(docs/sla-math.md, Customers): pandas over the checks, nearest-rank P95 over the calls, the union of
violation spans, and the amount rounded half-up to the currency's ISO 4217 minor unit. Two reporting
zones (UTC, and New York with March's spring-forward), two currencies (EUR: 2 decimals, JPY: none);
data on both edges of the month."""

import math
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.customers import statements
from app.customers.credits import amount, violation_seconds
from app.customers.service import get as get_customer
from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.periods import month
from app.reports import service as reports

NOW = datetime(2025, 4, 20, tzinfo=timezone.utc)
SERVICES = ("id-recognition", "face-liveness", "curp-verifier")
ISO_MINOR_UNITS = {"EUR": 2, "JPY": 0}  # ISO 4217's table, written out: the oracle does not ask the code


def edges(zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Spans of one-minute slots: across the month's start and end (in the zone), and the DST night."""
    start = datetime(2025, 3, 1, tzinfo=zone).astimezone(timezone.utc)
    end = datetime(2025, 4, 1, tzinfo=zone).astimezone(timezone.utc)
    return [
        (start - timedelta(hours=6), start + timedelta(hours=30)),
        (datetime(2025, 3, 9, 4, tzinfo=timezone.utc), datetime(2025, 3, 9, 12, tzinfo=timezone.utc)),
        (end - timedelta(hours=30), end + timedelta(hours=6)),
    ]


def make_checks(rng, zone: ZoneInfo) -> list[CheckRow]:
    rows = []
    for index, sid in enumerate(SERVICES):
        for begin, end in edges(zone):
            minutes = int((end - begin).total_seconds() // 60)
            fail = rng.random(minutes) < 0.01 * (index + 1)
            for i in range(minutes):
                ts = begin + timedelta(minutes=i)
                ok = not fail[i]
                rows.append(CheckRow(ts, sid, "seoul", ok, 200 if ok else 503, 100, None if ok else "http_error"))
    return rows


def make_calls(rng, zone: ZoneInfo) -> list[ApiCallRow]:
    rows = []
    medians = {"id-recognition": 120, "face-liveness": 330, "curp-verifier": 90}
    for sid in SERVICES:
        for begin, end in edges(zone):
            n = 400
            offsets = rng.uniform(0, (end - begin).total_seconds(), n)
            latency = rng.lognormal(np.log(medians[sid]), 0.4, n).astype(int) + 1
            rows += [
                ApiCallRow(begin + timedelta(seconds=float(o)), sid, "/v1", "POST", 200, int(ms), f"{sid}-{begin}-{i}")
                for i, (o, ms) in enumerate(zip(offsets, latency))
            ]
    return rows


def violations(zone: ZoneInfo) -> list[tuple[str, str, datetime, datetime | None]]:
    start = datetime(2025, 3, 1, tzinfo=zone)
    return [
        # curp-verifier: two spans of 3 h overlapping by 1 h: 5 h in violation (none of them 4 h long)
        ("curp-verifier", "availability", start + timedelta(days=3), start + timedelta(days=3, hours=3)),
        ("curp-verifier", "error_rate", start + timedelta(days=3, hours=2), start + timedelta(days=3, hours=5)),
        # id-recognition: 3 h before the month and 2 h inside it: 2 h in the month
        ("id-recognition", "latency_p95", start - timedelta(hours=3), start + timedelta(hours=2)),
        # face-liveness: still open at the month's end: from its start to the end of the month
        ("face-liveness", "latency_p95", datetime(2025, 4, 1, tzinfo=zone) - timedelta(hours=3, minutes=30), None),
    ]


async def seed(conn, zone_name: str, currency: str, fee: str) -> None:
    zone = ZoneInfo(zone_name)
    rng = np.random.default_rng(7)
    await write_checks(conn, make_checks(rng, zone), now=NOW)
    await write_api_calls(conn, make_calls(rng, zone), now=NOW)
    for sid, slo, started, ended in violations(zone):
        await conn.execute(
            "INSERT INTO slo_violations (service_id, slo, severity, started_at, ended_at, threshold) "
            "VALUES ($1, $2, 'CRITICAL', $3, $4, 1)",
            sid,
            slo,
            started,
            ended,
        )
    await conn.execute(
        "INSERT INTO customers (id, name, contacts, tier, monthly_fee, currency, starts_on) "
        "VALUES ('acme', 'ACME', '{}', 'enterprise', $1, $2, '2025-01-01')",
        Decimal(fee),
        currency,
    )
    await conn.execute(
        "INSERT INTO customer_services (customer_id, service_id, position) SELECT 'acme', s, o "
        "FROM unnest($1::text[]) WITH ORDINALITY AS t (s, o)",
        list(SERVICES),
    )


def oracle(zone_name: str, checks: list[CheckRow], calls: list[ApiCallRow], fee: str, currency: str) -> dict:
    zone = ZoneInfo(zone_name)
    start = pd.Timestamp(datetime(2025, 3, 1, tzinfo=zone)).tz_convert("UTC")
    end = pd.Timestamp(datetime(2025, 4, 1, tzinfo=zone)).tz_convert("UTC")
    frame = pd.DataFrame(checks, columns=CheckRow._fields)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    inside = frame[(frame.ts >= start) & (frame.ts < end)]
    ok, total = int(inside.ok.sum()), len(inside)
    availability = (Decimal(ok) * 100 / Decimal(total)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)

    c = pd.DataFrame(calls, columns=ApiCallRow._fields)
    c["ts"] = pd.to_datetime(c["ts"], utc=True)
    c = c[(c.ts >= start) & (c.ts < end)]
    p95 = {}
    for sid, group in c.groupby("service_id"):
        values = np.sort(group.latency_ms.to_numpy())
        p95[sid] = int(values[math.ceil(0.95 * len(values)) - 1])
    slow = sorted(sid for sid, value in p95.items() if value > 2 * 200)  # enterprise P95 target: 200 ms

    in_violation = {}
    for sid in SERVICES:
        minute_marks = set()
        for vsid, _, started, ended in violations(zone):
            if vsid != sid:
                continue
            a = max(pd.Timestamp(started).tz_convert("UTC"), start)
            b = min(pd.Timestamp(ended).tz_convert("UTC") if ended else end, end)
            minute_marks |= set(pd.date_range(a, b, freq="min", inclusive="left"))
        in_violation[sid] = len(minute_marks) * 60
    long = sorted(sid for sid, seconds in in_violation.items() if seconds >= 4 * 3600)

    percent = min(50, (10 if availability < Decimal("99.95") else 0) + (5 if slow else 0) + (5 if long else 0))
    unit = Decimal(1).scaleb(-ISO_MINOR_UNITS[currency])
    money = (Decimal(fee) * Decimal(percent) / Decimal(100)).quantize(unit, rounding=ROUND_HALF_UP)
    return {
        "availability": availability,
        "checks": (ok, total),
        "slow": slow,
        "long": long,
        "percent": percent,
        "amount": money,
        "violation_minutes": {sid: s // 60 for sid, s in in_violation.items()},
        "p95": p95,
    }


@pytest.mark.parametrize(
    ("zone_name", "currency", "fee"),
    [("UTC", "EUR", "12345.67"), ("America/New_York", "JPY", "1234567")],
)
async def test_the_statement_credit_equals_an_independent_computation(conn, zone_name, currency, fee):
    await conn.execute("TRUNCATE customer_target_overrides, customer_services, customers, customer_statements")
    await seed(conn, zone_name, currency, fee)
    zone = ZoneInfo(zone_name)
    rng = np.random.default_rng(7)
    expected = oracle(zone_name, make_checks(rng, zone), make_calls(rng, zone), fee, currency)
    period = month(2025, 3, zone)
    assert set(await reports.close_month(conn, period, NOW, zone_name)) >= set(SERVICES)
    customer = await get_customer(conn, "acme")
    doc = await statements.get(conn, customer, period, NOW, zone_name)
    assert doc["statement"]["status"] == "final" and doc["statement"]["revision"] == 1
    summary, credits = doc["summary"], doc["credits"]
    assert Decimal(str(summary["availabilityPercent"])) == expected["availability"]
    assert (summary["successfulChecks"], summary["totalChecks"]) == expected["checks"]
    assert credits["slowServices"] == expected["slow"] and credits["longViolationServices"] == expected["long"]
    assert credits["totalPercent"] == expected["percent"]
    assert Decimal(credits["amount"]) == expected["amount"]
    assert credits["amount"] == str(expected["amount"])  # stated at the minor unit: "2469.13", "246913"
    assert credits["minorUnit"] == ISO_MINOR_UNITS[currency] and credits["deductFrom"] == "2025-04"
    for section in doc["services"]:
        assert section["violationMinutes"] == expected["violation_minutes"][section["id"]]
        assert section["responseTimes"]["percentiles"]["p95"] == expected["p95"][section["id"]]
    # the scenario exercises every part of the rule
    assert expected["percent"] == 20 and expected["long"] == ["curp-verifier"] and expected["slow"] == ["face-liveness"]


async def test_every_service_figure_equals_its_frozen_monthly_report(conn):
    await conn.execute("TRUNCATE customer_target_overrides, customer_services, customers, customer_statements")
    await seed(conn, "UTC", "EUR", "100.00")
    period = month(2025, 3, ZoneInfo("UTC"))
    await reports.close_month(conn, period, NOW, "UTC")
    doc = await statements.get(conn, await get_customer(conn, "acme"), period, NOW, "UTC")
    for section in doc["services"]:
        svc = await conn.fetchrow("SELECT * FROM services WHERE id = $1", section["id"])
        report = await reports.get(conn, svc, period, NOW, "UTC")
        assert section["report"] == {"status": "final", "revision": 1}
        assert section["availability"] == {k: v for k, v in report["availability"].items() if k != "daily"}
        assert section["usage"] == {k: v for k, v in report["usage"].items() if k != "dailyStats"}
        assert section["responseTimes"]["percentiles"] == report["responseTimes"]["percentiles"]
        assert section["incidents"] == report["incidents"]["summary"]
        assert section["slo"]["objectives"] == report["slo"]["objectives"]
    assert doc["summary"]["totalChecks"] == sum(s["availability"]["totalChecks"] for s in doc["services"])


async def test_an_override_announced_in_time_lowers_the_target(conn):
    await conn.execute("TRUNCATE customer_target_overrides, customer_services, customers, customer_statements")
    await seed(conn, "UTC", "EUR", "1000.00")
    period = month(2025, 3, ZoneInfo("UTC"))
    for availability, effective in (("95", True), ("50", False)):  # the late one does not count
        await conn.execute(
            "INSERT INTO customer_target_overrides (customer_id, availability, starts_at, ends_at, announced_at, "
            "effective) VALUES ('acme', $1, '2025-03-20', '2025-04-05', '2025-03-01', $2)",
            Decimal(availability),
            effective,
        )
    doc = await statements.get(conn, await get_customer(conn, "acme"), period, NOW, "UTC")
    assert doc["statement"]["status"] == "provisional"  # not closed: composed live
    assert doc["summary"]["targetPercent"] == 95 and doc["summary"]["targetSource"] == "override"
    assert doc["summary"]["targetMet"] is True and doc["credits"]["availabilityPercent"] == 0
    assert [o["availability"] for o in doc["overrides"]] == [95]


def test_amounts_round_half_up_at_the_minor_unit():
    assert amount(Decimal("10.05"), 5, "EUR") == Decimal("0.50")  # 0.5025
    assert amount(Decimal("10.10"), 5, "EUR") == Decimal("0.51")  # 0.505: half-up, not to even
    assert amount(Decimal("12345"), 15, "JPY") == Decimal("1852")  # 1851.75
    assert amount(Decimal("10.125"), 10, "BHD") == Decimal("1.013")  # 1.0125, three decimals
    assert amount(Decimal("0"), 50, "USD") == Decimal("0.00")


def test_time_in_violation_counts_overlaps_once_and_clips_to_the_period():
    start, cut = datetime(2025, 3, 1, tzinfo=timezone.utc), datetime(2025, 4, 1, tzinfo=timezone.utc)
    spans = [
        {"startedAt": "2025-03-02T00:00:00Z", "endedAt": "2025-03-02T03:00:00Z"},
        {"startedAt": "2025-03-02T01:00:00Z", "endedAt": "2025-03-02T02:00:00Z"},  # inside the first
        {"startedAt": "2025-02-28T23:00:00Z", "endedAt": "2025-03-01T01:00:00Z"},  # 1 h in the month
        {"startedAt": "2025-03-31T23:30:00Z", "endedAt": None},  # open: to the cut
    ]
    assert violation_seconds(spans, start, cut) == (3 + 1) * 3600 + 1800
