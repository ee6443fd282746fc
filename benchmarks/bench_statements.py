"""Month close plus customer statements: 200 customers x 5 services; one JSON line.

50 services x DAYS days of 1-minute checks in 2025-08 (UTC) plus CALLS API calls per service, through
the ingest module, rollups refreshed. Then:
- the services' month close (revision 1 of 50 reports), timed alone;
- CUSTOMERS customers, each covering 5 of the 50 services, and their statements' close (revision 1 of
  each statement, composed of the frozen reports), and the same close again (nothing to do);
- baseline: reading the CUSTOMERS x 5 frozen reports the statements compose (`reports.get`), which the
  statements' close must at least do;
- one frozen statement rendered as json / csv / html (median of RUNS);
- the statements delivered (PDF printed, outbox records, emails to aiosmtpd on loopback) and a quarter's
  statement, each beside its baseline (bench_statement_delivery.py).
Usage: bench_statements.py [DAYS [CALLS [CUSTOMERS [DELIVER]]]]; env BENCH_STATEMENT_DAYS=31,
BENCH_STATEMENT_CALLS=2000, BENCH_STATEMENT_CUSTOMERS=200, BENCH_STATEMENT_DELIVER=40 (customers whose
statements are delivered: each is a PDF printed)."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from bench_reports import NOW, load_month, timed
from bench_statement_delivery import delivery_figures

from common import connect, emit, int_setting, log, machine, median_ms, millis, scratch_database

from app.customers import render, statements
from app.customers import service as customers
from app.periods import month
from app.reports import service as reports

ZONE = "UTC"
RUNS = 10
PER_CUSTOMER = 5
TIERS = ("enterprise_plus", "enterprise", "professional", "developer")
CURRENCIES = (("EUR", "1250.00"), ("JPY", "150000"), ("USD", "999.99"), ("KRW", "1500000"))


async def add_customers(conn, service_ids: list[str], count: int) -> None:
    for i in range(count):
        currency, fee = CURRENCIES[i % len(CURRENCIES)]
        await conn.execute(
            "INSERT INTO customers (id, name, contacts, tier, monthly_fee, currency, starts_on) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            f"cust-{i:03d}",
            f"Customer {i:03d}",
            [f"billing-{i}@example.com"],
            TIERS[i % len(TIERS)],
            Decimal(fee),
            currency,
            date(2025, 1, 1),
        )
        covered = [service_ids[(i * 7 + k * 11) % len(service_ids)] for k in range(PER_CUSTOMER)]
        await conn.execute(
            "INSERT INTO customer_services (customer_id, service_id, position) "
            "SELECT $1, s, o FROM unnest($2::text[]) WITH ORDINALITY AS t (s, o)",
            f"cust-{i:03d}",
            covered,
        )


async def main() -> None:
    days = int_setting(1, "BENCH_STATEMENT_DAYS", 31)
    calls_per_service = int_setting(2, "BENCH_STATEMENT_CALLS", 2000)
    customer_count = int_setting(3, "BENCH_STATEMENT_CUSTOMERS", 200)
    deliver_count = int_setting(4, "BENCH_STATEMENT_DELIVER", 40)
    period = month(2025, 8, ZoneInfo(ZONE))
    async with scratch_database("statements") as (url, service_ids):
        conn = await connect(url)
        try:
            calls, load_s = await load_month(conn, service_ids, days, calls_per_service)

            t0 = time.perf_counter()
            closed = await reports.close_month(conn, period, NOW, ZONE)  # no customers yet: services alone
            services_close_s = time.perf_counter() - t0
            await add_customers(conn, service_ids, customer_count)
            t0 = time.perf_counter()
            frozen = await statements.close_month(conn, period, NOW, ZONE)
            statements_close_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            await statements.close_month(conn, period, NOW, ZONE)  # every statement frozen: nothing to do
            again_s = time.perf_counter() - t0
            log(f"{len(closed)} reports in {services_close_s:.1f} s")
            log(f"{len(frozen)} statements in {statements_close_s:.1f} s")

            covered = await conn.fetch("SELECT customer_id, service_id FROM customer_services")
            services = {r["id"]: r for r in await conn.fetch("SELECT * FROM services")}

            async def frozen_reads():
                for row in covered:
                    await reports.get(conn, services[row["service_id"]], period, NOW, ZONE)

            baseline_s = (await timed(frozen_reads, 1))[0]
            customer = await customers.get(conn, "cust-000")
            doc = await statements.get(conn, customer, period, NOW, ZONE)
            formats = {}
            for fmt in ("json", "csv", "html"):

                async def rendered(fmt=fmt) -> bytes:
                    return render.as_bytes(doc, fmt, "ko", "Bench")

                samples = await timed(rendered, RUNS)
                formats[fmt] = {"median_ms": median_ms(samples), "bytes": len(render.as_bytes(doc, fmt, "ko", "Bench"))}
            read = await timed(lambda: statements.get(conn, customer, period, NOW, ZONE), RUNS)
            delivered = await delivery_figures(url, ZONE, min(deliver_count, customer_count))
            emit(
                {
                    "bench": "statements",
                    "services": len(service_ids),
                    "customers": customer_count,
                    "services_per_customer": PER_CUSTOMER,
                    "days": days,
                    "checks": days * 1440 * len(service_ids),
                    "api_calls": len(calls),
                    "load_s": round(load_s, 1),
                    "services_month_close_s": round(services_close_s, 2),
                    "statements_close_s": round(statements_close_s, 2),
                    "statement_close_per_customer_ms": millis(statements_close_s / max(1, len(frozen))),
                    "statements_closed": len(frozen),
                    "statements_close_again_s": round(again_s, 3),
                    "month_close_total_s": round(services_close_s + statements_close_s, 2),
                    "baseline_frozen_report_reads_s": round(baseline_s, 2),
                    "statement_read_median_ms": median_ms(read),
                    "formats": formats,
                    **delivered,
                    "machine": machine(),
                }
            )
        finally:
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
