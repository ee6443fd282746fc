"""The SLO forecasts' error on seeded histories with known outcomes (docs/sla-math.md "Forecasts"):
SERVICES services of MONTHS months each, per kind (availability in minutes, an error rate in calls),
every month after the first three forecast at days 3, 7, 10, 14, 18, 21, 25 and 28 with only what was
known then, scored against whether the month missed: Brier scores of the bootstrap beside, in the same
run, the naive straight line (1 when the month's burn so far, kept up, overspends) and the climatology
(the share of the service's last 3 months that missed); the bootstrap's calibration table; and the
time one forecast takes. Then, on a scratch database of 50 services with DB_DAYS days of minute checks
and 500 calls a day each, the forecast cron (`forecast_slos`: read, forecast, alerts) beside, in the
same run, the every-minute SLO cron (`evaluate_slos`) on the same data (BENCH_FORECAST_DB_DAYS=0 skips).
usage: python benchmarks/bench_forecast.py [services=60] [months=9] [seed=2026] [db_days=10]"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from decimal import Decimal

from bench_slo import timed_job

from common import (
    close_worker_context,
    connect,
    emit,
    floor_minute,
    int_setting,
    load_checks_and_calls,
    log,
    machine,
    scratch_database,
    utc_now,
    worker_context,
)

from app.slo import forecast, forecast_backtest
from workers.forecast import forecast_slos
from workers.slo import evaluate_slos


async def crons(days: int, runs: int = 3) -> dict[str, object]:
    """The forecast cron and the SLO cron, each `runs` times, on 50 services' last `days` days."""
    async with scratch_database("forecast") as (url, service_ids):
        now = utc_now()
        start = floor_minute(now) - timedelta(days=days)
        conn = await connect(url)
        checks, calls = await load_checks_and_calls(conn, service_ids, start, days, 500, now)
        ctx = await worker_context(url)
        result = {
            "services": len(service_ids),
            "days": days,
            "checks": checks,
            "api_calls": calls,
            "forecast_slos": await timed_job(forecast_slos, ctx, runs),
            "evaluate_slos_baseline": await timed_job(evaluate_slos, ctx, runs),
            "cron_period_ms": {"forecast_slos": 300_000, "evaluate_slos": 60_000},
        }
        await close_worker_context(ctx)
        await conn.close()
    return result


def main() -> None:
    services = int_setting(1, "BENCH_FORECAST_SERVICES", 60)
    months = int_setting(2, "BENCH_FORECAST_MONTHS", 9)
    seed = int_setting(3, "BENCH_FORECAST_SEED", 2026)
    result: dict[str, object] = {
        "bench": "forecast",
        "services": services,
        "months": months,
        "seed": seed,
        "simulations": forecast.SIMULATIONS,
        "machine": machine(),
    }
    for kind in ("availability", "calls"):
        log(f"{kind}: seeding {services} services x {months} months")
        histories = forecast_backtest.seeded_services(seed, services, months, kind)
        started = time.perf_counter()
        scored = forecast_backtest.backtest(histories)
        elapsed = time.perf_counter() - started
        summary = forecast_backtest.summary(scored)
        summary["forecastMs"] = round(1000 * elapsed / len(scored), 3)
        result[kind] = summary
    # One forecast at mid-month with a 90-day pool, alone: what the worker pays per SLO.
    inputs = forecast_backtest.inputs_at(histories[0][-1], 15, [d for m in histories[0][-4:-1] for d in m.days])
    runs = 200
    started = time.perf_counter()
    for _ in range(runs):
        forecast.forecast(inputs)
    result["oneForecastMs"] = round(1000 * (time.perf_counter() - started) / runs, 3)
    started = time.perf_counter()
    for _ in range(runs):
        forecast.naive_probability(inputs)
    result["oneNaiveMs"] = round(1000 * (time.perf_counter() - started) / runs, 4)
    assert isinstance(inputs.allowed_ratio, Decimal)
    db_days = int_setting(4, "BENCH_FORECAST_DB_DAYS", 10)
    if db_days > 0:
        result["crons"] = asyncio.run(crons(db_days))
    emit(result)


if __name__ == "__main__":
    main()
