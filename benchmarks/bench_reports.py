"""Month close for 50 services and report generation time per format; one JSON line.

50 services x DAYS days of 1-minute checks in one calendar month (2025-08, UTC) plus CALLS API calls per
service, all through the ingest module; rollups refreshed. Then:
- baseline: the four /api/sla/* readers (availability, response times, usage, incident stats) for
  the 50 services, which is what the close must at least read;
- the month close (revision 1 for 50 services), and the same close again (idempotent: nothing to do);
- each format of one frozen report (median of RUNS; the PDF of PDF_RUNS), and, as the PDF's baseline,
  Chromium printing a one-line page (its fixed start-up cost).
Usage: bench_reports.py [DAYS [CALLS]]; env BENCH_REPORT_DAYS=31, BENCH_REPORT_CALLS=5000."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from common import (
    check_batches,
    connect,
    emit,
    int_setting,
    log,
    machine,
    median_ms,
    millis,
    scratch_database,
    server_versions,
)

from app.ingest.service import ApiCallRow, write_api_calls, write_checks
from app.periods import month
from app.reports import pdf, render
from app.reports import service as reports
from app.rollups import service as rollups
from app.sla import service as sla

ZONE = "UTC"
START = datetime(2025, 8, 1, tzinfo=timezone.utc)
NOW = datetime(2025, 9, 2, tzinfo=timezone.utc)
RUNS, PDF_RUNS = 10, 3


def api_calls(service_ids: list[str], per_service: int, days: int, seed: int = 11) -> list[ApiCallRow]:
    rng = random.Random(seed)
    span = days * 86400
    rows = []
    for sid in service_ids:
        for i in range(per_service):
            status = 200 if rng.random() < 0.97 else rng.choice([404, 500, 503])
            rows.append(
                ApiCallRow(
                    START + timedelta(seconds=rng.uniform(0, span)),
                    sid,
                    "/v1/x",
                    "POST",
                    status,
                    int(rng.lognormvariate(6.0, 0.7)),
                    f"{sid}-{i}",
                )
            )
    return rows


async def timed(coro_factory, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await coro_factory()
        samples.append(time.perf_counter() - t0)
    return samples


async def load_month(conn, service_ids: list[str], days: int, calls_per_service: int) -> tuple[list, float]:
    """DAYS days of 1-minute checks and the API calls from 2025-08-01 (UTC), rollups refreshed; (calls, seconds)."""
    t0 = time.perf_counter()
    for batch in check_batches(service_ids, START, days * 1440, 50_000):
        await write_checks(conn, batch, now=NOW)
    calls = api_calls(service_ids, calls_per_service, days)
    for i in range(0, len(calls), 50_000):
        await write_api_calls(conn, calls[i : i + 50_000], now=NOW)
    await rollups.refresh(conn, ZONE, NOW)
    load_s = time.perf_counter() - t0
    log(f"loaded {days * 1440 * len(service_ids)} checks and {len(calls)} calls in {load_s:.1f} s")
    return calls, load_s


async def main() -> None:
    days = int_setting(1, "BENCH_REPORT_DAYS", 31)
    calls_per_service = int_setting(2, "BENCH_REPORT_CALLS", 5000)
    period = month(2025, 8, ZoneInfo(ZONE))
    async with scratch_database("reports") as (url, service_ids):
        conn = await connect(url)
        try:
            calls, load_s = await load_month(conn, service_ids, days, calls_per_service)
            services = await conn.fetch("SELECT * FROM services ORDER BY id")

            async def sla_reads():
                for svc in services:
                    await sla.availability(conn, svc, period, NOW, ZONE)
                    await sla.response_times(conn, svc, period, NOW)
                    await sla.usage(conn, svc, period, NOW, ZONE)
                    await sla.incident_stats(conn, period, NOW, svc["id"])

            baseline_s = (await timed(sla_reads, 1))[0]
            t0 = time.perf_counter()
            closed = await reports.close_month(conn, period, NOW, ZONE)
            close_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = await reports.close_month(conn, period, NOW, ZONE)
            reclose_s = time.perf_counter() - t0
            log(f"closed {len(closed)} in {close_s:.1f} s; again {len(again)} in {reclose_s:.2f} s")

            doc = await reports.get(conn, services[0], period, NOW, ZONE)
            formats = {}
            for fmt in ("json", "csv", "html", "pdf"):
                runs = PDF_RUNS if fmt == "pdf" else RUNS
                body = await render.as_bytes(doc, fmt, "ko")
                samples = await timed(lambda fmt=fmt: render.as_bytes(doc, fmt, "ko"), runs)
                formats[fmt] = {"median_ms": median_ms(samples), "bytes": len(body), "runs": runs}
            read = await timed(lambda: reports.get(conn, services[0], period, NOW, ZONE), RUNS)
            trivial = await timed(lambda: pdf.html_to_pdf("<!DOCTYPE html><p>x</p>"), PDF_RUNS)
            emit(
                {
                    "bench": "reports",
                    "services": len(service_ids),
                    "days": days,
                    "checks": days * 1440 * len(service_ids),
                    "api_calls": len(calls),
                    "load_s": round(load_s, 1),
                    "month_close_s": round(close_s, 2),
                    "month_close_per_service_ms": millis(close_s / len(closed)),
                    "services_closed": len(closed),
                    "month_close_again_s": round(reclose_s, 3),
                    "baseline_sla_reads_s": round(baseline_s, 2),
                    "snapshot_read_median_ms": median_ms(read),
                    "formats": formats,
                    "baseline_pdf_trivial_page_median_ms": median_ms(trivial),
                    "pdf_minus_trivial_ms": round(formats["pdf"]["median_ms"] - statistics.median(trivial) * 1000, 1),
                    "server": await server_versions(conn),
                    "machine": machine(),
                }
            )
        finally:
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
