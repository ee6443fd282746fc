"""A customer's statement beyond the month (docs/sla-math.md, Periods and Customers): a quarter (the
SLA document's quarterly review), a year, or a range of days up to a year.

The figures are the monthly statement's, with the same definitions over the longer period: each
covered service's report figures computed from the rows for the whole period (a quarter's
availability is Σ successful slots / Σ slots of its months, its P95 the nearest rank over all of its
calls), and the customer's totals composed from them exactly as for a month. Credits stay monthly
(the contract's fee and its deduction are monthly): the statement lists the credit of each calendar
month wholly inside the period, as that month's statement states it (frozen once closed, live
before), and their sum. Such a statement is computed when asked, never frozen."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from app.customers import statements
from app.customers.models import minor_unit
from app.customers.service import decimal_text
from app.formatting import utc_iso
from app.periods import Period, local_date, months_in
from app.reports import figures as report_figures
from app.rollups import service as rollups

CREDITS_BASIS = "monthly: each calendar month wholly inside the period, as its monthly statement states it, summed"


async def _live_report(
    conn: asyncpg.Connection, service: asyncpg.Record, period: Period, now: datetime, timezone_name: str
) -> dict[str, Any]:
    """A service's report figures over the period, from the rows (reports are frozen per month only)."""
    figures = await report_figures.compute(conn, service, period, now, timezone_name)
    return {"report": {"status": "computed", "revision": None}, **figures}


def _month_credit(doc: dict[str, Any]) -> dict[str, Any]:
    meta, summary, credits = doc["statement"], doc["summary"], doc["credits"]
    return {
        "month": meta["month"],
        "status": meta["status"],
        "revision": meta["revision"],
        "availabilityPercent": summary["availabilityPercent"],
        "targetPercent": summary["targetPercent"],
        "totalPercent": credits["totalPercent"],
        "amount": credits["amount"],
        "deductFrom": credits["deductFrom"],
    }


async def _monthly_credits(
    conn: asyncpg.Connection, customer: asyncpg.Record, period: Period, now: datetime, timezone_name: str
) -> list[dict[str, Any]]:
    today = local_date(now, period.zone)
    rows = []
    for month in months_in(period):
        inside = period.first_day <= month.first_day and month.end_day <= period.end_day
        if not inside or month.first_day > today or customer["starts_on"] >= month.end_day:
            continue
        rows.append(_month_credit(await statements.get(conn, customer, month, now, timezone_name)))
    return rows


def _meta(customer_id: str, period: Period, now: datetime) -> dict[str, Any]:
    return {
        "customerId": customer_id,
        "month": period.label,
        "status": "provisional" if period.is_partial(now) else "computed",
        "revision": None,
        "asOf": utc_iso(now),
        "latestRevision": None,
        "revisions": [],
    }


async def get(
    conn: asyncpg.Connection, customer: asyncpg.Record, period: Period, now: datetime, timezone_name: str
) -> dict[str, Any]:
    """The statement over a quarter, a year or a range: live figures, monthly credits summed."""
    statements.check_contract(customer, period)
    doc = await rollups.in_snapshot(
        conn, lambda: statements.compute(conn, customer, period, now, timezone_name, read=_live_report)
    )
    months = await _monthly_credits(conn, customer, period, now, timezone_name)
    currency = customer["currency"]
    total = sum((Decimal(m["amount"]) for m in months), Decimal(0)).quantize(Decimal(1).scaleb(-minor_unit(currency)))
    doc["credits"] = {
        "basis": CREDITS_BASIS,
        "months": months,
        "amount": str(total),
        "currency": currency,
        "minorUnit": minor_unit(currency),
        "monthlyFee": decimal_text(Decimal(customer["monthly_fee"])),
        "capPercent": doc["credits"]["capPercent"],
        "p95TargetMs": doc["credits"]["p95TargetMs"],
    }
    return {"statement": _meta(customer["id"], period, now), **doc}
