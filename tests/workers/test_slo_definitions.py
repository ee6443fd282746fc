"""The SLO definitions worker (workers/slo_definitions.py) against real PostgreSQL and Redis: a stored
definition's threshold alert opens a violation that is recorded as an `slo_violation.opened`
notification event and announced as `slo-definition-violation`; a rerun changes nothing; a clean
measurement closes it; a deleted definition's open violations end when it was deleted."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.notifications.channels.base import Delivery
from app.notifications.channels.pagerduty import dedup_key
from app.slo.definitions import store
from app.slo.definitions.model import Definition, Filter, Sli, ThresholdAlert, Window
from tests.workers.conftest import write_slots
from workers.slo_definitions import sweep

SID = "face-compare"
MINUTE = timedelta(minutes=1)
DEFINITION = Definition(
    "face-availability",
    "Face Compare availability",
    "",
    (SID,),
    Sli("checks", good=Filter(ok=True)),
    Window("rolling", days=7),
    Decimal("99.9"),
    alerts=(ThresholdAlert("below-95", "CRITICAL", "good_percent", "lt", Decimal(95), 15),),
)


@pytest.fixture
async def defs_db(conn):
    await conn.execute("TRUNCATE slo_definition_violations, slo_definitions CASCADE")
    yield conn


async def events(conn, prefix: str) -> list[dict]:
    rows = await conn.fetch(
        "SELECT event_key, kind, service_ids, payload FROM notification_events WHERE event_key LIKE $1 || '%' "
        "ORDER BY id",
        prefix,
    )
    return [dict(r) for r in rows]


async def test_a_violation_is_opened_notified_announced_and_closed(defs_db, worker_ctx):
    conn = defs_db
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    t0 = now - (now - datetime(2000, 1, 3, tzinfo=timezone.utc)) % timedelta(minutes=5) - 30 * MINUTE
    await write_slots(conn, SID, t0 - 60 * MINUTE, "." * 60 + "..x.." * 6)  # 80 % for 30 minutes
    assert await store.put(conn, DEFINITION, "api") is True
    publisher = worker_ctx["publisher"].publisher
    since = await publisher.latest_seq()
    first = await sweep(worker_ctx, t0 + 30 * MINUTE + 20 * timedelta(seconds=1))
    assert first["face-availability"] == [f"opened:{SID}/below-95"]
    (row,) = await conn.fetch("SELECT * FROM slo_definition_violations")
    assert (row["started_at"], row["ended_at"], row["threshold"], row["worst_value"]) == (t0, None, 95, 80)
    (event,) = await events(conn, f"slodef:{row['id']}:")
    assert (event["kind"], event["service_ids"]) == ("slo_violation.opened", [SID])
    violation = json.loads(event["payload"])["violation"]
    assert (violation["slo"], violation["serviceName"], violation["threshold"]) == (
        "face-availability/below-95",
        "Face Compare",
        95,
    )
    # its own PagerDuty/Opsgenie alert, never one of the tier violation of the same id
    delivery = Delivery(
        "1", event["kind"], event["event_key"], t0, [SID], {"violation": violation}, None, None, None, {}, False
    )
    assert dedup_key(delivery) == f"slamon-slodef-{row['id']}"
    announced = [e for e in (await publisher.replay(since, {"slo"})).model_dump()["events"]]
    mine = [e for e in announced if e["event"] == "slo-definition-violation"]
    assert [(e["data"]["definition"], e["data"]["kind"]) for e in mine] == [("face-availability", "opened")]

    assert (await sweep(worker_ctx, t0 + 30 * MINUTE + 40 * timedelta(seconds=1)))["face-availability"] == []

    await write_slots(conn, SID, t0 + 30 * MINUTE, ".....")  # a clean measurement
    closed = await sweep(worker_ctx, t0 + 35 * MINUTE + 20 * timedelta(seconds=1))
    assert closed["face-availability"] == [f"closed:{SID}/below-95"]
    (row,) = await conn.fetch("SELECT * FROM slo_definition_violations")
    assert row["ended_at"] == t0 + 30 * MINUTE
    assert [e["kind"] for e in await events(conn, f"slodef:{row['id']}:")] == [
        "slo_violation.opened",
        "slo_violation.closed",
    ]


async def test_a_deleted_definition_ends_its_open_violations(defs_db, worker_ctx):
    conn = defs_db
    await store.put(conn, DEFINITION, "api")
    started = datetime.now(timezone.utc) - timedelta(hours=1)
    await conn.execute(
        "INSERT INTO slo_definition_violations (definition, service_id, alert, severity, started_at, threshold) "
        "VALUES ('face-availability', $1, 'below-95', 'CRITICAL', $2, 95)",
        SID,
        started,
    )
    assert await store.delete(conn, "face-availability") is True
    assert await store.delete(conn, "face-availability") is False
    deleted_at = await conn.fetchval("SELECT deleted_at FROM slo_definitions")
    result = await sweep(worker_ctx, datetime.now(timezone.utc))
    assert result == {"face-availability": [f"closed:{SID}/below-95"]}
    assert await conn.fetchval("SELECT ended_at FROM slo_definition_violations") == deleted_at
    # taken over by a new definition of the same name: created again
    assert await store.put(conn, DEFINITION, "api") is True and await store.put(conn, DEFINITION, "api") is False
