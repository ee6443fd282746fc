"""The forecast cron (workers/forecast.py) on real PostgreSQL: a service whose availability budget is
running out opens a forecast alert while no burn-rate alert fires, once however often the cron runs;
the alert closes when the month is over; each transition reaches a real webhook receiver through the
notification scan, the fan-out and the delivery job."""

import asyncio
from datetime import datetime, timedelta, timezone

from app.notifications import outbox
from app.services import service as services
from app.slo.evaluation import evaluate
from tests.app.notifications.conftest import run_worker, subscribe  # noqa: F401
from tests.workers.conftest import write_slots
from workers import forecast, notify

SID = "face-compare"  # enterprise: 99.95 %, 22.32 minutes of a 31-day month... August: 22.32 as well
QUIET = "id-recognition"
NOW = datetime(2025, 8, 20, 12, 0, 30, tzinfo=timezone.utc)
NEXT_MONTH = datetime(2025, 9, 1, 0, 10, tzinfo=timezone.utc)


def day_pattern(failed_minutes: int) -> str:
    """A UTC day of 1-minute slots failing `failed_minutes` from 02:00."""
    return "." * 120 + "x" * failed_minutes + "." * (1440 - 120 - failed_minutes)


async def write_august(conn) -> None:
    # Clean until Aug 13; 1 failed minute a day Aug 14 .. 17, 6 a day Aug 18 .. 20 (22 of 22.32).
    pattern = "".join(day_pattern(0) for _ in range(13)) + "".join(day_pattern(1) for _ in range(4))
    pattern += "".join(day_pattern(6) for _ in range(2)) + day_pattern(6)[: 12 * 60]
    await write_slots(conn, SID, datetime(2025, 8, 1, tzinfo=timezone.utc), pattern)
    await write_slots(conn, QUIET, datetime(2025, 8, 1, tzinfo=timezone.utc), "." * (19 * 1440 + 12 * 60))


async def write_september(conn) -> None:
    start = datetime(2025, 8, 20, 12, 0, tzinfo=timezone.utc)
    await write_slots(conn, SID, start, "." * int((NEXT_MONTH - start).total_seconds() // 60))


async def alerts(conn):
    return [dict(r) for r in await conn.fetch("SELECT * FROM slo_forecast_alerts ORDER BY id")]


async def test_a_budget_running_out_alerts_before_a_burn_rate_alert_once_and_closes_with_the_month(conn, worker_ctx):
    await write_august(conn)
    worker_ctx["settings"] = worker_ctx["settings"].model_copy(update={"timezone": "UTC"})

    changes = await forecast.sweep_forecasts(worker_ctx, NOW)
    assert changes == [f"opened:{SID}:availability"]
    (alert,) = await alerts(conn)
    assert (alert["service_id"], alert["slo"], alert["period"], alert["opened_at"]) == (
        SID,
        "availability",
        "2025-08",
        NOW,
    )
    assert alert["reasons"] == ["exhaustion_current_burn", "exhaustion_recent_burn", "miss_probability"]
    # 0.32 minutes left at the last 7 days' 22 minutes in 6.5 days: in 2.27 hours
    assert alert["exhausts_at"] == NOW + timedelta(seconds=round(0.32 * 6.5 * 86400 / 22))
    # It holds only if none of the 12 days left (the last one partial) draws one of the 7 failing
    # days of the 20 the month has so far: 1 - 0.65^12 = 0.994, as simulated.
    assert abs(float(alert["miss_probability"]) - (1 - 0.65**12)) < 0.005
    # The failures are hours old: neither burn-rate window (1 h / 6 h) burns, no burn-rate alert fires.
    found = await evaluate(conn, await services.get(conn, SID), NOW)
    assert not [c for c in found if c.violation["slo"].startswith("burn_rate")]

    assert await forecast.sweep_forecasts(worker_ctx, NOW + timedelta(minutes=5)) == []  # again: nothing more
    assert len(await alerts(conn)) == 1

    # September: clean so far. The alert belongs to August and closes; whether September alerts is its
    # own forecast's call (7 failing days among the last 31 give it a 42 % chance to miss, so
    # the threshold is raised here to keep this about August).
    await write_september(conn)
    worker_ctx["settings"] = worker_ctx["settings"].model_copy(update={"forecast_miss_probability": 0.9})
    assert await forecast.sweep_forecasts(worker_ctx, NEXT_MONTH) == [f"closed:{SID}:availability"]
    (alert,) = await alerts(conn)
    assert alert["closed_at"] == NEXT_MONTH
    assert await forecast.sweep_forecasts(worker_ctx, NEXT_MONTH + timedelta(minutes=5)) == []


async def test_forecast_alerts_reach_a_webhook_receiver(conn, staff, make_receiver, run_worker, worker_ctx):
    await write_august(conn)
    receiver = await make_receiver()
    await subscribe(staff, url=receiver.url, events=["slo_forecast.opened", "slo_forecast.closed"])
    ctx = await run_worker()
    worker_ctx["settings"] = worker_ctx["settings"].model_copy(update={"timezone": "UTC"})
    await forecast.sweep_forecasts(worker_ctx, NOW)
    await write_september(conn)
    worker_ctx["settings"] = worker_ctx["settings"].model_copy(update={"forecast_miss_probability": 0.9})
    await forecast.sweep_forecasts(worker_ctx, NEXT_MONTH)
    # The cron's scan at the times the alert opened and closed (the scan announces the last day only).
    (alert,) = await alerts(conn)
    assert await outbox.scan(conn, NOW + timedelta(seconds=5), 86_400) == [f"forecast:{alert['id']}:opened"]
    await outbox.scan(conn, NEXT_MONTH + timedelta(seconds=5), 86_400)
    await notify.notify_tick(ctx)
    requests = await receiver.wait_for(2)
    by_kind = {r.headers["X-SLAMon-Event"]: r.json for r in requests}
    opened = by_kind["slo_forecast.opened"]["data"]["forecast"]
    assert (opened["serviceId"], opened["slo"], opened["period"]) == (SID, "availability", "2025-08")
    assert opened["reasons"] == ["exhaustion_current_burn", "exhaustion_recent_burn", "miss_probability"]
    assert by_kind["slo_forecast.opened"]["services"] == [SID]
    assert by_kind["slo_forecast.closed"]["data"]["forecast"]["closedAt"].startswith("2025-09-01T00:10:00")


async def test_two_workers_at_once_open_one_alert(conn, pool, worker_ctx):
    await write_august(conn)
    worker_ctx["settings"] = worker_ctx["settings"].model_copy(update={"timezone": "UTC"})
    first, second = await asyncio.gather(
        forecast.sweep_forecasts(worker_ctx, NOW), forecast.sweep_forecasts({**worker_ctx, "pool": pool}, NOW)
    )
    assert sorted(first + second) == [f"opened:{SID}:availability"]
    assert len(await alerts(conn)) == 1
