"""The forecast cron (workers/forecast.py) for a stored SLO definition on real PostgreSQL: a rolling
28-day availability whose budget the last week's burn spends within 24 h opens a forecast alert at
the known time while the definition's burn-rate alert does not fire; a rerun changes nothing; the
alert reaches a real webhook receiver as slo_forecast.opened with the definition as its SLO and a
PagerDuty dedup key of its own; it closes when the definition is deleted."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from app.notifications import outbox
from app.notifications.channels.base import Delivery
from app.notifications.channels.pagerduty import dedup_key
from app.notifications.messages import describe
from app.slo.definitions import engine, store
from app.slo.definitions.model import BurnRateAlert, Definition, Filter, Sli, Window
from tests.app.notifications.conftest import run_worker, subscribe  # noqa: F401
from tests.workers.conftest import write_slots
from workers import forecast, notify

SID = "face-compare"
NAME = "face-28d"
NOW = datetime(2025, 8, 20, 12, 0, 30, tzinfo=timezone.utc)
START = datetime(2025, 7, 20, tzinfo=timezone.utc)
DEFINITION = Definition(
    NAME,
    "Face Compare availability, 28 days",
    "",
    (SID,),
    Sli("checks", good=Filter(ok=True)),
    Window("rolling", days=28),
    Decimal("99.9"),  # 40.32 minutes of 40,320
    alerts=(BurnRateAlert("fast", "CRITICAL", 60, 5, Decimal("14.4")),),
)


def day_pattern(failed_minutes: int) -> str:
    """A UTC day of 1-minute slots failing `failed_minutes` from 02:00."""
    return "." * 120 + "x" * failed_minutes + "." * (1440 - 120 - failed_minutes)


async def write_data(conn) -> None:
    # Clean from July 20 to August 13; 5 failed minutes a day August 14 .. 19, 6 on August 20: 36 of
    # the 40.32 minutes, all in the last 7 days (24-hour slices ending at NOW).
    pattern = "".join(day_pattern(0) for _ in range(25)) + "".join(day_pattern(5) for _ in range(6))
    pattern += day_pattern(6)[: 12 * 60]
    await write_slots(conn, SID, START, pattern)
    await store.put(conn, DEFINITION, "api")


async def alerts(conn) -> list[dict]:
    return [dict(r) for r in await conn.fetch("SELECT * FROM slo_definition_forecast_alerts ORDER BY id")]


def mine(changes: list[str]) -> list[str]:
    return [c for c in changes if ":definition:" in c]


async def test_a_rolling_budget_running_out_alerts_before_a_burn_rate_alert_once(conn, worker_ctx):
    await write_data(conn)
    changes = await forecast.sweep_forecasts(worker_ctx, NOW)
    assert mine(changes) == [f"opened:{SID}:definition:{NAME}"]
    (alert,) = await alerts(conn)
    assert (alert["definition"], alert["service_id"], alert["period"], alert["opened_at"]) == (
        NAME,
        SID,
        "28d rolling",
        NOW,
    )
    assert "exhaustion_recent_burn" in alert["reasons"] and "exhaustion_current_burn" not in alert["reasons"]
    # 4.32 minutes left at 36 minutes a week while the window's oldest (clean) days drop out: 20.16 h
    assert alert["exhausts_at"] == NOW + timedelta(seconds=72_576)
    details = alert["details"] if isinstance(alert["details"], dict) else json.loads(alert["details"])
    assert (details["budget"], details["consumed"], details["unit"]) == ("40.32", "36.00", "minutes")
    # The failures are hours old: the definition's burn-rate alert (1 h and 5 min windows) stays quiet.
    assert await engine.evaluate(conn, DEFINITION, [SID], NOW, worker_ctx["settings"].zone) == []
    assert await conn.fetchval("SELECT count(*) FROM slo_definition_violations") == 0

    assert mine(await forecast.sweep_forecasts(worker_ctx, NOW + timedelta(minutes=5))) == []  # idempotent
    assert len(await alerts(conn)) == 1

    assert await store.delete(conn, NAME) is True  # a deleted definition forecasts no more
    later = NOW + timedelta(minutes=10)
    assert mine(await forecast.sweep_forecasts(worker_ctx, later)) == [f"closed:{SID}:definition:{NAME}"]
    (alert,) = await alerts(conn)
    assert alert["closed_at"] == later


async def test_definition_forecast_alerts_reach_a_webhook_receiver(conn, staff, make_receiver, run_worker, worker_ctx):
    await write_data(conn)
    receiver = await make_receiver()
    await subscribe(staff, url=receiver.url, events=["slo_forecast.opened"])
    ctx = await run_worker()
    await forecast.sweep_forecasts(worker_ctx, NOW)
    (alert,) = await alerts(conn)
    keys = await outbox.scan(conn, NOW + timedelta(seconds=5), 86_400)
    assert f"defforecast:{alert['id']}:opened" in keys
    await notify.notify_tick(ctx)
    requests = await receiver.wait_for(len([k for k in keys if k.endswith(":opened")]))
    found = [r.json["data"]["forecast"] for r in requests if "definition" in r.json["data"]["forecast"]]
    (opened,) = found
    assert (opened["serviceId"], opened["slo"], opened["definition"], opened["period"]) == (
        SID,
        NAME,
        NAME,
        "28d rolling",
    )
    assert "exhaustion_recent_burn" in opened["reasons"]
    # PagerDuty: an alert of its own, never the tier forecast alert of the same id
    delivery = Delivery("1", "slo_forecast.opened", "k", NOW, [SID], {"forecast": opened}, None, None, None, {}, False)
    assert dedup_key(delivery) == f"slamon-defforecast-{alert['id']}"
    tier = {"forecast": {k: v for k, v in opened.items() if k != "definition"}}
    tier_delivery = Delivery("2", "slo_forecast.opened", "k", NOW, [SID], tier, None, None, None, {}, False)
    assert dedup_key(tier_delivery) == f"slamon-forecast-{alert['id']}"
    # chat and email: the definition as the SLO, its window where a tier alert says the month
    message = describe("slo_forecast.opened", {"forecast": opened})
    assert NAME in message.title and ("Window", "28d rolling") in message.facts
