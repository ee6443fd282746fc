"""The statement delivery and a quarter's statement, on the data bench_statements.py closed (imported
by it; not a script of its own).

- delivery recorded: `delivery.deliver_month` for the first DELIVER customers, one by one (its PDF
  printed by the reports' Chromium, the event, attachment and deliveries recorded); baseline: printing
  PDFS statements alone;
- delivery sent: every email (PDF attached) through the outbox's attempt (claim, SMTP, outcome) to an
  aiosmtpd server on loopback, CONCURRENCY at a time; baseline: the same message bytes sent with
  aiosmtplib alone (no database), the same concurrency;
- a quarter's statement (app/customers/longer.py) of one customer (2025-Q3: August holds the data);
  baseline: its August computed the same way (live from the rows)."""

from __future__ import annotations

import asyncio
import socket
import time
from zoneinfo import ZoneInfo

import aiosmtplib
import asyncpg
from aiosmtpd.controller import Controller
from bench_reports import NOW, timed

from common import log, median_ms, millis, rate

from app.config import Settings
from app.customers import delivery, longer, render, statements
from app.customers import service as customers
from app.notifications import delivery as outbox
from app.notifications.senders import Senders
from app.periods import Period, month, quarter
from app.reports import pdf

CONCURRENCY = 10
PDFS = 5
RUNS = 3


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _limited(work, items, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(item):
        async with gate:
            await work(item)

    await asyncio.gather(*(one(item) for item in items))


async def _pdf_baseline(pool: asyncpg.Pool, period: Period, zone: str, count: int) -> float:
    """Seconds per PDF: the first `count` statements printed alone."""
    async with pool.acquire() as conn:
        docs = [
            await statements.get(conn, await customers.get(conn, f"cust-{i:03d}"), period, NOW, zone)
            for i in range(count)
        ]
    t0 = time.perf_counter()
    for doc in docs:
        await render.print_pdf(doc, "ko", "Bench", None, None)
    return (time.perf_counter() - t0) / max(1, count)


async def delivery_figures(url: str, zone: str, count: int) -> dict:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = Settings(
        database_url=url,
        secret_key="bench-secret",
        timezone=zone,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        webhook_timeout_s=60,
    )
    period = month(2025, 8, ZoneInfo(zone))
    pool = await asyncpg.create_pool(url, min_size=2, max_size=CONCURRENCY + 2)
    senders = Senders(settings)
    try:
        per_pdf_s = await _pdf_baseline(pool, period, zone, PDFS)
        planned = []
        t0 = time.perf_counter()
        for i in range(count):
            planned += await delivery.deliver_month(
                pool, settings, period, NOW, customer_id=f"cust-{i:03d}", requested_by="bench"
            )
        record_s = time.perf_counter() - t0
        ids = [i for item in planned for i in item.delivery_ids]
        log(f"{len(ids)} deliveries recorded in {record_s:.1f} s")

        async def attempt(delivery_id: str) -> None:
            result = await outbox.deliver(pool, senders, settings, delivery_id)
            assert result.status == "delivered", result

        t0 = time.perf_counter()
        await _limited(attempt, ids, CONCURRENCY)
        send_s = time.perf_counter() - t0
        sample = inbox.messages[0]

        async def plain(_: int) -> None:
            await aiosmtplib.send(
                sample, sender="bench@localhost", recipients=["bench@example.com"], hostname="127.0.0.1", port=port
            )

        t0 = time.perf_counter()
        await _limited(plain, range(len(ids)), CONCURRENCY)
        plain_s = time.perf_counter() - t0

        async with pool.acquire() as conn:
            customer = await customers.get(conn, "cust-000")
            q3 = quarter(2025, 3, ZoneInfo(zone))
            quarter_runs = await timed(lambda: longer.get(conn, customer, q3, NOW, zone), RUNS)
            month_runs = await timed(
                lambda: statements.compute(conn, customer, period, NOW, zone, read=longer._live_report), RUNS
            )
    finally:
        await senders.close()
        await pdf.shutdown()
        await pool.close()
        controller.stop()
    return {
        "delivery": {
            "customers": sum(1 for item in planned if item.delivery_ids),
            "deliveries": len(ids),
            "record_s": round(record_s, 2),
            "record_per_customer_ms": millis(record_s / max(1, len(planned))),
            "baseline_pdf_alone_ms": millis(per_pdf_s),
            "send_s": round(send_s, 2),
            "emails_per_s": rate(len(ids), send_s),
            "pdf_bytes": len(sample),
            "baseline_plain_smtp_per_s": rate(len(ids), plain_s),
            "concurrency": CONCURRENCY,
        },
        "quarter_statement_median_ms": median_ms(quarter_runs),
        "baseline_month_live_median_ms": median_ms(month_runs),
    }
