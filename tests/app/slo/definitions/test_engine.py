"""The definitions engine (app/slo/definitions/engine.py) against an independent pandas recomputation
from the raw rows: for every window kind (rolling 7 and 30 days, calendar week, month and quarter), in
UTC and in America/New_York around the end of DST (a 7-day week of 169 hours), two services at once
(one probed every 2 minutes: its budget is spent 2 minutes a bad slot), two regions some hours
(majority, ties fail), a maintenance window with failures and calls inside (left out); calls filtered
on endpoint + method + status, a latency percentile, gte and gt targets; burn rates over every
window; threshold alerts and burn-rate alerts written as violations, idempotently."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.services.service import load_catalog, sync_catalog
from app.slo.definitions import engine
from app.slo.definitions.model import BurnRateAlert, Definition, Filter, Sli, ThresholdAlert, Window
from tests.app.conftest import ROOT

SERVICES = ("face-compare", "id-liveness")
INTERVAL = {"face-compare": 60, "id-liveness": 120}
# Sunday 2 November 2025, 15:02:30 UTC: New York left DST at 06:00 UTC that morning.
NOW = datetime(2025, 11, 2, 15, 2, 30, tzinfo=timezone.utc)
START = datetime(2025, 9, 28, tzinfo=timezone.utc)  # before every window (Q4 starts 1 October)
MAINTENANCE = (datetime(2025, 10, 30, 1, 0, tzinfo=timezone.utc), datetime(2025, 10, 30, 3, 0, tzinfo=timezone.utc))
ENDPOINTS = ["/api/v1/agents", "/api/v1/agents/{id}/execute", "/v1/other"]
HUNDRED = Decimal(100)

DEFINITIONS = [
    Definition(
        "availability-week",
        "Availability, calendar week",
        "",
        SERVICES,
        Sli("checks", good=Filter(ok=True)),
        Window("calendar", unit="week"),
        Decimal("99.5"),
        alerts=(
            BurnRateAlert("fast", "CRITICAL", 60, 5, Decimal("14.4")),
            BurnRateAlert("slow", "WARNING", 360, 30, Decimal(6)),
            ThresholdAlert("low", "WARNING", "good_percent", "lt", Decimal(98), 20),
        ),
    ),
    Definition(
        "fast-slots-7d",
        "Fast slots, 7 days",
        "",
        SERVICES,
        Sli("checks", good=Filter(ok=True, latency_below_ms=400)),
        Window("rolling", days=7),
        Decimal(90),
        op="gt",
    ),
    Definition(
        "agents-p95-month",
        "GET/POST agents P95 < 150 ms, calendar month",
        "",
        SERVICES,
        Sli(
            "calls",
            events=Filter(endpoints=tuple(ENDPOINTS[:2]), methods=("GET", "POST"), statuses=("2xx", "500-504")),
            good=Filter(latency_below_ms=150),
            percentile=Decimal(95),
        ),
        Window("calendar", unit="month"),
        Decimal(95),
        alerts=(ThresholdAlert("p95-slow", "CRITICAL", "percentile_ms", "gt", Decimal(150), 15),),
    ),
    Definition(
        "no-5xx-quarter",
        "5xx below 2 %, calendar quarter",
        "",
        SERVICES,
        Sli("calls", bad=Filter(statuses=("5xx",))),
        Window("calendar", unit="quarter"),
        Decimal(98),
        op="gt",
        alerts=(ThresholdAlert("burst", "WARNING", "bad_percent", "gt", Decimal(10), 10),),
    ),
    Definition(
        "success-30d",
        "2xx on GET, 30 days",
        "",
        SERVICES,
        Sli("calls", events=Filter(methods=("GET",)), good=Filter(statuses=("2xx",))),
        Window("rolling", days=30),
        Decimal("99.5"),
        alerts=(BurnRateAlert("burn", "WARNING", 120, 10, Decimal(2)),),
    ),
]


def error(ok: bool) -> str | None:
    return None if ok else "http_error"


def make_checks(rng, sid: str) -> list[CheckRow]:
    step = INTERVAL[sid]
    count = int((NOW - START).total_seconds() // step) + 1
    fail = rng.random(count) < 0.003
    fail[5000:5030] = True  # an outage
    maintenance_first = int((MAINTENANCE[0] - START).total_seconds() // step)
    fail[maintenance_first + 3 : maintenance_first + 40] = True  # failures in maintenance: left out
    fail[-60:] = rng.random(60) < 0.5  # burning lately
    latency = rng.lognormal(np.log(300), 0.4, count).astype(int)
    rows = []
    for i in range(count):
        ts = START + timedelta(seconds=i * step)
        ok = not fail[i]
        rows.append(CheckRow(ts, sid, "seoul", ok, 200 if ok else 503, int(latency[i]) if ok else 40, error(ok)))
        if datetime(2025, 10, 29, tzinfo=timezone.utc) <= ts < datetime(2025, 10, 29, 6, tzinfo=timezone.utc):
            other = ok if i % 7 else not ok  # 1 ok + 1 failed is a tie, and ties fail
            rows.append(CheckRow(ts, sid, "virginia", other, 200 if other else 503, int(latency[i]) + 17, error(other)))
    return rows


def make_calls(rng, sid: str) -> list[ApiCallRow]:
    n = 14_000
    span = (NOW - START).total_seconds()
    offsets = rng.uniform(0, span + 600, n)  # some after `now`: not counted
    offsets[:3000] = rng.uniform(span - 8 * 3600, span, 3000)  # dense lately: burn windows hold calls
    latency = rng.lognormal(np.log(90), 0.6, n).astype(int)
    status = rng.choice([200] * 40 + [201, 204, 301, 404, 429, 500, 502, 503, 504, 505], n)
    late = offsets > span - 40 * 60  # the last 40 minutes: slow and failing (threshold alerts)
    latency[late] = latency[late] * 3
    status[late & (rng.random(n) < 0.3)] = 503
    endpoint = rng.choice(ENDPOINTS, n)
    method = rng.choice(["GET", "POST", "DELETE"], n)
    return [
        ApiCallRow(START + timedelta(seconds=float(o)), sid, str(e), str(m), int(s), int(ms), f"{sid}-{i}")
        for i, (o, e, m, s, ms) in enumerate(zip(offsets, endpoint, method, status, latency))
    ]


@pytest.fixture
async def seeded(defs_db):
    conn = defs_db
    await conn.execute("UPDATE services SET interval_s = 120 WHERE id = 'id-liveness'")
    rng = np.random.default_rng(11)
    checks, calls = [], []
    for sid in SERVICES:
        checks += make_checks(rng, sid)
        calls += make_calls(rng, sid)
    await write_checks(conn, checks, now=NOW + timedelta(hours=1))
    await write_api_calls(conn, calls, now=NOW + timedelta(hours=1))
    await conn.execute(
        "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at) VALUES ('upgrade', $1, $2, $3)",
        list(SERVICES),
        *MAINTENANCE,
    )
    yield conn, checks, calls
    await sync_catalog(conn, load_catalog(ROOT / "services.toml"))


# --- the oracle ---------------------------------------------------------------------------------


def in_maintenance(ts: pd.Series) -> pd.Series:
    return (ts >= MAINTENANCE[0]) & (ts < MAINTENANCE[1])


def nearest_rank(values, q: Decimal) -> int | None:
    ordered = sorted(int(v) for v in values)
    return None if not ordered else ordered[math.ceil(q * len(ordered)) - 1]


def slot_frame(checks) -> pd.DataFrame:
    """Slots: the majority verdict of their regions (ties fail) and the median (nearest rank) latency
    of the regions that succeeded; at most two regions here, so that median is their lower latency."""
    df = pd.DataFrame([(r.service_id, r.ts, r.ok, r.latency_ms) for r in checks], columns=["sid", "ts", "ok", "lat"])
    assert df.groupby(["sid", "ts"]).size().max() <= 2
    df["ok_lat"] = df.lat.where(df.ok)
    slots = df.groupby(["sid", "ts"]).agg(oks=("ok", "sum"), n=("ok", "size"), latency=("ok_lat", "min")).reset_index()
    slots["ok"] = slots.oks * 2 > slots.n
    return slots[~in_maintenance(slots.ts)]


def call_frame(calls) -> pd.DataFrame:
    df = pd.DataFrame(
        [(r.service_id, r.ts, r.endpoint, r.method, r.status_code, r.latency_ms) for r in calls],
        columns=["sid", "ts", "endpoint", "method", "status", "latency"],
    )
    return df[~in_maintenance(df.ts)]


def window_of(definition: Definition, zone: ZoneInfo) -> tuple[datetime, Decimal]:
    """The window's start and whole length in minutes, computed here from the calendar."""
    if definition.window.kind == "rolling":
        return NOW - timedelta(days=definition.window.days), Decimal(definition.window.days * 1440)
    local = NOW.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if definition.window.unit == "week":
        first = midnight - timedelta(days=local.weekday())
        last = first + timedelta(days=7)
    elif definition.window.unit == "month":
        first = midnight.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    else:
        first = midnight.replace(month=10, day=1)
        last = first.replace(year=first.year + 1, month=1)
    start, end = first.replace(tzinfo=zone).astimezone(timezone.utc), last.replace(tzinfo=zone).astimezone(timezone.utc)
    return start, Decimal(int((end - start).total_seconds())) / 60


def events_and_good(definition: Definition, slots: pd.DataFrame, calls: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The events (rows) and which of them are good, per the definition's filters, from scratch."""
    sli = definition.sli
    if sli.source == "checks":
        good = slots.ok.astype(bool)
        if sli.good.latency_below_ms:
            good = good & (slots.latency.fillna(10**9) < sli.good.latency_below_ms)
        return slots, good
    keep = pd.Series(True, index=calls.index)
    f = sli.events
    if f.endpoints:
        keep &= calls.endpoint.isin(f.endpoints)
    if f.methods:
        keep &= calls.method.isin(f.methods)
    if f.statuses:
        ranges = {"2xx": (200, 299), "5xx": (500, 599), "500-504": (500, 504)}
        keep &= np.logical_or.reduce([calls.status.between(*ranges[s]) for s in f.statuses])
    events = calls[keep]
    if sli.good is not None:
        if sli.good.latency_below_ms:
            good = events.latency < sli.good.latency_below_ms
        else:
            good = events.status.between(200, 299)
    else:
        good = ~events.status.between(500, 599)
    return events, good


def two(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def expected_status(definition, zone, slots, calls, sid) -> dict:
    start, minutes = window_of(definition, zone)
    rows, good = events_and_good(definition, slots[slots.sid == sid], calls[calls.sid == sid])
    in_window = (rows.ts >= start) & (rows.ts < NOW)
    n, g = int(in_window.sum()), int((good & in_window).sum())
    target = definition.target
    if definition.op == "gte":
        met = g * HUNDRED >= target * n
        allowed = n - int((target / HUNDRED * n).to_integral_value(ROUND_CEILING))
    else:
        met = g * HUNDRED > target * n
        allowed = max(0, int(((1 - target / HUNDRED) * n).to_integral_value(ROUND_CEILING)) - 1)
    if definition.sli.source == "checks":
        total = (1 - target / HUNDRED) * minutes
        consumed = Decimal((n - g) * INTERVAL[sid]) / 60
        budget = {
            "unit": "minutes",
            "total": two(total),
            "consumed": two(consumed),
            "remaining": two(total - consumed),
            "consumedPercent": two(consumed * 100 / total),
        }
    else:
        budget = {
            "unit": "calls",
            "total": allowed,
            "consumed": n - g,
            "remaining": allowed - (n - g),
            "consumedPercent": two(Decimal(n - g) * 100 / allowed) if allowed else None,
        }
    exact = {}
    for m in engine.burn_minutes(definition):
        recent = (rows.ts >= NOW - timedelta(minutes=m)) & (rows.ts < NOW)
        total_m, bad_m = int(recent.sum()), int((recent & ~good).sum())
        exact[m] = None if total_m == 0 else Decimal(bad_m) / Decimal(total_m) / (1 - target / HUNDRED)
    burn = {engine.window_name(m): None if r is None else two(r) for m, r in exact.items()}
    percentile = None
    if definition.sli.percentile is not None:
        percentile = nearest_rank(rows[in_window].latency, definition.sli.percentile / 100)
    return {
        "start": start,
        "minutes": minutes,
        "events": {"total": n, "good": g},
        "met": met if n else None,
        "sli": (Decimal(g) * 100 / n).quantize(Decimal("0.0001"), rounding=ROUND_DOWN) if n else None,
        "errorBudget": budget,
        "burnRates": burn,
        "burnExact": exact,
        "percentile": percentile,
        "rows": rows,
        "good": good,
    }


def expected_threshold(alert: ThresholdAlert, definition, rows: pd.DataFrame, good: pd.Series):
    """(started_at, worst) of the violation the alert opens now, or None, from 5-minute buckets."""
    end = pd.Timestamp(NOW).floor("5min")
    lookback = timedelta(minutes=alert.minutes) + timedelta(hours=6)
    kept = (rows.ts >= end - lookback) & (rows.ts < end)
    frame = pd.DataFrame({"bucket": rows.ts[kept].dt.floor("5min"), "good": good[kept], "lat": rows.latency[kept]})
    values = []
    for bucket, group in frame.groupby("bucket"):
        n = len(group)
        if alert.measure == "good_percent":
            value = Decimal(int(group.good.sum())) * 100 / n
        elif alert.measure == "bad_percent":
            value = Decimal(int((~group.good).sum())) * 100 / n
        else:
            value = Decimal(nearest_rank(group.lat, definition.sli.percentile / 100))
        values.append((bucket.to_pydatetime(), value))
    run = []
    for bucket, value in reversed(values):
        if not (value < alert.value if alert.compare == "lt" else value > alert.value):
            break
        run.append((bucket, value))
    if len(run) < alert.buckets:
        return None
    worst = min(v for _, v in run) if alert.compare == "lt" else max(v for _, v in run)
    return run[-1][0], worst


# --- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone_name", ["UTC", "America/New_York"])
async def test_figures_equal_a_recomputation_from_raw_rows(seeded, zone_name):
    conn, checks, calls = seeded
    zone = ZoneInfo(zone_name)
    slots, frame = slot_frame(checks), call_frame(calls)
    for definition in DEFINITIONS:
        window, figures = await engine.figures(conn, definition, list(SERVICES), NOW, zone)
        for sid in SERVICES:
            expected = expected_status(definition, zone, slots, frame, sid)
            got = engine.assess(definition, window, figures[sid])
            where = (definition.name, sid, zone_name)
            assert (window.start, window.end, window.minutes) == (expected["start"], NOW, expected["minutes"]), where
            assert (got["events"]["total"], got["events"]["good"]) == tuple(expected["events"].values()), where
            assert got["events"]["total"] > got["events"]["good"] > 0, where  # not vacuous
            assert got["met"] is expected["met"], where
            assert got["sli"] == expected["sli"], where
            assert got["errorBudget"] == expected["errorBudget"], where
            assert got["burnRates"] == expected["burnRates"], where
            assert got["percentileMs"] == expected["percentile"], where
    if zone_name == "America/New_York":  # the DST week: 7 x 24 h + 1 h
        week, _ = await engine.figures(conn, DEFINITIONS[0], [], NOW, zone)
        assert week.minutes == 7 * 1440 + 60 and week.label == "2025-W44"


async def test_alerts_open_violations_as_recomputed_and_a_rerun_changes_nothing(seeded):
    conn, checks, calls = seeded
    zone = ZoneInfo("UTC")
    slots, frame = slot_frame(checks), call_frame(calls)
    opened = 0
    for definition in DEFINITIONS:
        await conn.execute(
            "INSERT INTO slo_definitions (name, body, source) VALUES ($1, $2::jsonb, 'api')",
            definition.name,
            json.dumps(definition.to_json()),
        )
        changes = await engine.evaluate(conn, definition, list(SERVICES), NOW, zone)
        rows = {
            (r["service_id"], r["alert"]): r
            for r in await conn.fetch("SELECT * FROM slo_definition_violations WHERE definition = $1", definition.name)
        }
        assert len(changes) == len(rows) and all(c.kind == "opened" for c in changes)
        for sid in SERVICES:
            expected = expected_status(definition, zone, slots, frame, sid)
            for alert in definition.alerts:
                row = rows.get((sid, alert.name))
                where = (definition.name, sid, alert.name)
                if isinstance(alert, ThresholdAlert):
                    verdict = expected_threshold(alert, definition, expected["rows"], expected["good"])
                    assert (None if row is None else (row["started_at"], row["worst_value"])) == verdict, where
                else:
                    raw = [expected["burnExact"][m] for m in (alert.long_minutes, alert.short_minutes)]
                    burning = all(r is not None and r >= alert.factor for r in raw)
                    assert (row is not None) is burning, (where, raw)
                    if row is not None:
                        assert (row["started_at"], row["threshold"], row["worst_value"]) == (NOW, alert.factor, raw[0])
                if row is not None:
                    opened += 1
                    assert (row["severity"], row["ended_at"]) == (alert.severity, None)
        assert await engine.evaluate(conn, definition, list(SERVICES), NOW + timedelta(seconds=20), zone) == []
    assert opened >= 6  # the fixture burns and fails lately: the comparison is not vacuous


@pytest.mark.parametrize(
    ("op", "bad", "met", "allowed"), [("gte", 1, True, 1), ("gt", 1, False, 0), ("gt", 0, True, 0)]
)
async def test_gte_and_gt_at_the_boundary(defs_db, op, bad, met, allowed):
    """99.9 % of 1,000 calls: one bad call meets `gte` (999 good >= 99.9 %) and spends its whole
    budget, and breaks `gt` (999 good is not above 99.9 %), whose budget is then 0 calls."""
    sid = "face-compare"
    t0 = NOW - timedelta(hours=2)
    calls = [
        ApiCallRow(t0 + timedelta(seconds=i), sid, "/x", "GET", 500 if i < bad else 200, 10, f"b{i}")
        for i in range(1000)
    ]
    await write_api_calls(defs_db, calls, now=NOW)
    definition = Definition(
        "boundary", "", "", (sid,), Sli("calls", bad=Filter(statuses=("5xx",))), Window("rolling", days=1),
        Decimal("99.9"), op=op,
    )  # fmt: skip
    window, figures = await engine.figures(defs_db, definition, [sid], NOW, ZoneInfo("UTC"))
    got = engine.assess(definition, window, figures[sid])
    assert (got["met"], got["errorBudget"]["total"], got["errorBudget"]["remaining"]) == (met, allowed, allowed - bad)
    assert (got["errorBudget"]["remaining"] >= 0) is met  # the budget and the SLO agree


async def test_a_window_announced_too_late_counts_as_ordinary_time(defs_db):
    """The notice rule (sql/150): only an excluded maintenance window leaves its rows out."""
    sid = "face-compare"
    t0 = NOW - timedelta(hours=2)
    calls = [
        ApiCallRow(t0 + timedelta(minutes=i), sid, "/x", "GET", 500 if i < 10 else 200, 10, f"m{i}") for i in range(60)
    ]
    await write_api_calls(defs_db, calls, now=NOW)
    definition = Definition(
        "notice", "", "", (sid,), Sli("calls", bad=Filter(statuses=("5xx",))), Window("rolling", days=1), Decimal(99)
    )
    insert = (
        "INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at, excluded) "
        "VALUES ('late', $1, $2, $3, $4)"
    )
    await defs_db.execute(insert, [sid], t0, t0 + timedelta(minutes=10), False)
    _, late = await engine.figures(defs_db, definition, [sid], NOW, ZoneInfo("UTC"))
    assert (late[sid].events, late[sid].bad) == (60, 10)
    await defs_db.execute(insert, [sid], t0, t0 + timedelta(minutes=10), True)
    _, excluded = await engine.figures(defs_db, definition, [sid], NOW, ZoneInfo("UTC"))
    assert (excluded[sid].events, excluded[sid].bad) == (50, 0)
