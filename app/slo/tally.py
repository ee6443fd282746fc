"""SLO figures kept between runs of the incremental SLO evaluation (workers/slo.py, sql/320), so that a
run reads what was written since the last one, not the windows and the month again
(docs/operations.md, "Kept figures"). Every figure equals the raw-row one the full evaluation computes
(app/slo/service.py, evaluation.py); tests/workers/test_slo_tally.py compares them after every run.

- Complete 5-minute buckets of the last hours (slo_tally_buckets): counts and the three nearest-rank
  latency percentiles of each, computed from raw rows once a bucket completes. They are the violation
  rules' measurements, and the inner part of each burn window; the window's edges (from its start to
  the first bucket boundary, and the open bucket) are read raw.
- The month's call figures (slo_tally) up to `calls_to`, a minute boundary CALLS_GRACE behind the run:
  counts, and per percentile its value and how many calls lie below it, with the exact latency
  counts of those calls (slo_tally_latencies). A run adds the calls that settled since the last
  and moves each percentile along the latency counts by as many values as calls came in; calls
  after `calls_to` are read raw at every run and merged the same way, without being kept.
- Per service and violation rule, its fold of the measurements (slo_tally_runs, sql/350: `Run`), so
  that a run judges the measurements completed since the last (`verdicts`), not the look-back again.

What a run cannot prove unchanged it recomputes, for the one service concerned: rows written before
`buckets_to` (the change log's earliest written instant, app/changes) recompute the buckets from
there; rows written before `calls_to`, a configuration or maintenance change, or a new reporting
month recount the service's month from raw rows."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from app.changes.service import Due
from app.periods import Period
from app.slo import alerts, queries
from app.slo.alerts import CRITICAL, WARNING, Rule, Verdict
from app.slo.evaluation import LOOKBACK, bucket_floor, measurements, service_rules
from app.slo.service import BURN_WINDOWS, latency_targets

# How far behind a run the month's kept calls stop: calls written later than this after their time
# make the service's month be recounted.
CALLS_GRACE = timedelta(minutes=10)
PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))  # as percentile_disc takes them (float8)


def rank(fraction: float, calls: int) -> int:
    """The position percentile_disc(fraction) takes among `calls` ordered values (1-based)."""
    return max(1, math.ceil(fraction * calls))


@dataclass
class Segment:
    """Kept latencies around a percentile's value, ascending, and how many kept calls lie below them;
    `lowest`/`highest`: nothing kept lies below/above the segment."""

    values: list[tuple[int, int]]
    offset: int
    lowest: bool
    highest: bool


def pick(segment: Segment, extra: dict[int, int], k: int) -> tuple[int, int] | None:
    """The k-th smallest latency of the kept calls and `extra` (latency -> calls), with how many lie
    below it; None when the segment does not reach it."""
    low = None if segment.lowest else segment.values[0][0]
    high = None if segment.highest else segment.values[-1][0]
    merged = dict(segment.values)
    running = segment.offset
    for value, n in extra.items():
        if low is not None and value < low:
            running += n
        elif high is None or value <= high:
            merged[value] = merged.get(value, 0) + n
    if k <= running:
        return None
    for value in sorted(merged):
        if running + merged[value] >= k:
            return value, running
        running += merged[value]
    return None


@dataclass
class Month:
    """One service's kept month (a row of slo_tally)."""

    calls: int = 0
    errors: int = 0
    c5xx: int = 0
    c4xx: int = 0
    ge: list[int] = field(default_factory=lambda: [0, 0, 0])  # calls at or over the P50, P95, P99 targets
    values: list[tuple[int | None, int]] = field(default_factory=lambda: [(None, 0)] * 3)  # (value, below)


@dataclass
class Calls:
    """Calls read raw for one service: latency -> count, and the error counts."""

    latencies: dict[int, int]
    errors: int = 0
    c5xx: int = 0
    c4xx: int = 0

    @property
    def total(self) -> int:
        return sum(self.latencies.values())

    def ge(self, targets: list[int]) -> list[int]:
        return [sum(n for v, n in self.latencies.items() if v >= t) for t in targets]


def _merged(*parts: dict[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for part in parts:
        for value, n in part.items():
            out[value] = out.get(value, 0) + n
    return out


def _segments(
    rows: Iterable[Any],
    keys: set[tuple[str, int]],
    limits: dict[tuple[str, int], int],
    below: dict[tuple[str, int], int],
) -> dict[tuple[str, int], Segment]:
    up: dict[tuple[str, int], list[tuple[int, int]]] = {key: [] for key in keys}
    down: dict[tuple[str, int], list[tuple[int, int]]] = {key: [] for key in keys}
    for row in rows:
        key = (row["service_id"], row["which"])
        (up if row["up"] else down)[key].append((row["latency_ms"], row["n"]))
    found = {}
    for key in keys:
        ups = sorted(up[key])
        downs = sorted(down[key])
        found[key] = Segment(
            downs + ups,
            below[key] - sum(n for _, n in downs),
            len(downs) < limits[key],
            len(ups) < limits[key],
        )
    return found


async def keep(
    conn: asyncpg.Connection, services: list[Any], work: dict[str, Due | None], period: Period, now: datetime
) -> dict[str, dict[str, Any]]:
    """Bring the kept figures of `services` (due now, with their pending change in `work`) up to `now`;
    return each one's month call figures to `now` (as queries.CALL_FIGURES gives them)."""
    if not services:
        return {}
    ids = [s["id"] for s in services]
    targets = {s["id"]: latency_targets(s) for s in services}
    end = bucket_floor(now)
    horizon = end - LOOKBACK
    settle_at = max(period.start, (now - CALLS_GRACE).replace(second=0, microsecond=0))
    async with conn.transaction():
        await conn.execute(queries.TALLY_LOCK)
        states = {r["service_id"]: r for r in await conn.fetch(queries.TALLY_STATES, ids)}

        # the buckets: recomputed from the earliest instant that may have changed
        bucket_from = {}
        for sid in ids:
            state, due = states.get(sid), work.get(sid)
            if state is None or due is None or due.anything or state["buckets_to"] > end:
                since = horizon
            elif due.written_from is not None and due.written_from < state["buckets_to"]:
                since = bucket_floor(due.written_from)
            else:
                since = state["buckets_to"]
            bucket_from[sid] = max(since, horizon)
        await conn.execute(queries.TALLY_DROP_BUCKETS, ids, [bucket_from[sid] for sid in ids], horizon)
        await conn.execute(queries.TALLY_DROP_RUNS, ids, [bucket_from[sid] for sid in ids])
        columns = [list(c) for c in zip(*(targets[sid] for sid in ids), strict=True)]
        await conn.execute(queries.TALLY_PUT_BUCKETS, ids, [bucket_from[sid] for sid in ids], end, *columns)

        # the month: recounted, or advanced by the calls that settled since
        recount = set()
        kept: dict[str, Month] = {}
        since_calls, settle = {}, {}
        for sid in ids:
            state, due = states.get(sid), work.get(sid)
            if (
                state is None
                or due is None
                or due.anything
                or state["period_start"] != period.start
                or state["calls_to"] > now
                or (due.written_from is not None and due.written_from < state["calls_to"])
            ):
                recount.add(sid)
                kept[sid] = Month()
                since_calls[sid] = period.start
                settle[sid] = settle_at
            else:
                kept[sid] = Month(
                    state["calls"],
                    state["errors"],
                    state["c5xx"],
                    state["c4xx"],
                    [state["ge_p50"], state["ge_p95"], state["ge_p99"]],
                    [(state[name], state[f"below_{name}"]) for name, _ in PERCENTILES],
                )
                since_calls[sid] = state["calls_to"]
                settle[sid] = max(settle_at, state["calls_to"])
        settled = {sid: Calls({}) for sid in ids}
        tail = {sid: Calls({}) for sid in ids}
        rows = await conn.fetch(
            queries.TALLY_CALLS, ids, [since_calls[sid] for sid in ids], [settle[sid] for sid in ids], now
        )
        for row in rows:
            part = (settled if row["settled"] else tail)[row["service_id"]]
            part.latencies[row["latency_ms"]] = row["n"]
            part.errors += row["errors"]
            part.c5xx += row["c5xx"]
            part.c4xx += row["c4xx"]

        # the kept latencies around each percentile, as far as the new calls can move it
        keys, limits, below, values = set(), {}, {}, {}
        for sid in ids:
            incoming = settled[sid].total + tail[sid].total
            if sid in recount or kept[sid].calls == 0 or incoming == 0:
                continue
            for which, (value, under) in enumerate(kept[sid].values):
                key = (sid, which)
                keys.add(key)
                limits[key], below[key], values[key] = incoming + 2, under, value
        order = sorted(keys)
        neighbours = await conn.fetch(
            queries.TALLY_NEIGHBOURS,
            [k[0] for k in order],
            [k[1] for k in order],
            [values[k] for k in order],
            [limits[k] for k in order],
        )
        segments = _segments(neighbours, keys, limits, below)

        async def whole(sid: str) -> Segment:
            rows = await conn.fetch(queries.TALLY_LATENCIES, [sid])
            return Segment(sorted((r["latency_ms"], r["n"]) for r in rows), 0, True, True)

        figures: dict[str, dict[str, Any]] = {}
        new_state: dict[str, Month] = {}
        for sid in ids:
            old, new, late = kept[sid], settled[sid], tail[sid]
            month = Month(
                old.calls + new.total,
                old.errors + new.errors,
                old.c5xx + new.c5xx,
                old.c4xx + new.c4xx,
                [a + b for a, b in zip(old.ge, new.ge(targets[sid]), strict=True)],
            )
            now_values: list[int | None] = []
            month_values: list[tuple[int | None, int]] = []
            for which, (_, fraction) in enumerate(PERCENTILES):
                if sid in recount or old.calls == 0:
                    segment = Segment([], 0, True, True)
                elif new.total + late.total == 0:
                    month_values.append(old.values[which])
                    now_values.append(old.values[which][0])
                    continue
                else:
                    segment = segments[sid, which]
                results: list[tuple[int | None, int]] = []
                # the month kept from now on, and the month to now
                wanted = [
                    (new.latencies, month.calls),
                    (_merged(new.latencies, late.latencies), month.calls + late.total),
                ]
                for extra, calls in wanted:
                    if calls == 0:
                        results.append((None, 0))
                        continue
                    found = pick(segment, extra, rank(fraction, calls))
                    if found is None:  # moved past the segment fetched: read them all (not expected)
                        found = pick(await whole(sid), extra, rank(fraction, calls))
                    assert found is not None
                    results.append(found)
                month_values.append(results[0])
                now_values.append(results[1][0])
            month.values = month_values
            new_state[sid] = month
            ge = [a + b for a, b in zip(month.ge, late.ge(targets[sid]), strict=True)]
            figures[sid] = {
                "calls": month.calls + late.total,
                "error_rate": month.errors + late.errors,
                "error_rate_5xx": month.c5xx + late.c5xx,
                "error_rate_4xx": month.c4xx + late.c4xx,
                "latency_p50": ge[0],
                "latency_p95": ge[1],
                "latency_p99": ge[2],
                "p50": now_values[0],
                "p95": now_values[1],
                "p99": now_values[2],
            }

        if recount:
            await conn.execute(queries.TALLY_DROP_LATENCIES, list(recount))
        added = [(sid, v, n) for sid in ids for v, n in settled[sid].latencies.items()]
        if added:
            await conn.execute(queries.TALLY_ADD_LATENCIES, *(list(c) for c in zip(*added, strict=True)))
        await conn.execute(
            queries.TALLY_PUT,
            ids,
            [end] * len(ids),
            [period.start] * len(ids),
            [settle[sid] for sid in ids],
            *([getattr(new_state[sid], name) for sid in ids] for name in ("calls", "errors", "c5xx", "c4xx")),
            *([new_state[sid].ge[i] for sid in ids] for i in range(3)),
            *(
                column
                for i in range(3)
                for column in (
                    [new_state[sid].values[i][0] for sid in ids],
                    [new_state[sid].values[i][1] for sid in ids],
                )
            ),
        )
    return figures


async def windows(conn: asyncpg.Connection, services: list[Any], now: datetime) -> dict[str, dict[str, dict[str, Any]]]:
    """service.burn_windows_many from the kept buckets (brought up to `now` by keep) and raw edges."""
    if not services:
        return {}
    ids = [s["id"] for s in services]
    end = bucket_floor(now)
    seconds = [s for _, s in BURN_WINDOWS]
    starts = [now - timedelta(seconds=s) for s in seconds]
    mids = [lo if bucket_floor(lo) == lo else bucket_floor(lo) + alerts.BUCKET for lo in starts]
    columns = [list(c) for c in zip(*(latency_targets(s) for s in services), strict=True)]
    rows = await conn.fetch(queries.TALLY_WINDOWS, ids, now, seconds, *columns, end, starts, mids)
    found = {(r["service_id"], r["seconds"]): r for r in rows}
    return {
        sid: {
            name: {k: v for k, v in found[sid, s].items() if k not in ("service_id", "seconds")}
            for name, s in BURN_WINDOWS
        }
        for sid in ids
    }


@dataclass
class Run:
    """One violation rule folded over a service's measurements, oldest first: what alerts.judge
    needs of them (the trailing run beyond the WARNING threshold, the newest measurement and the
    newest breaching one)."""

    newest: datetime | None = None  # start of the newest measurement
    start: datetime | None = None  # start of the trailing run (None: the newest does not breach)
    length: int = 0
    critical: int = 0  # the run's newest measurements beyond the CRITICAL threshold, consecutive
    worst: Decimal | None = None
    last_breach: datetime | None = None

    def add(self, rule: Rule, bucket: datetime, value: Decimal | None) -> None:
        if value is None:
            return
        self.newest = bucket
        if not rule.breaches(value, rule.warning):
            self.start, self.length, self.critical, self.worst = None, 0, 0, None
            return
        if self.length == 0:
            self.start, self.worst = bucket, value
        self.length += 1
        self.critical = self.critical + 1 if rule.breaches(value, rule.critical) else 0
        self.worst = rule.worse(self.worst, value)
        self.last_breach = bucket

    def verdict(self, rule: Rule, horizon: datetime) -> Verdict | None:
        """alerts.judge over the measurements folded from `horizon` on; exact while the trailing run
        starts at or after it (`within`)."""
        if self.newest is None or self.newest < horizon:
            return None
        severity = (
            CRITICAL
            if self.critical >= rule.critical_buckets
            else (WARNING if self.length >= rule.warning_buckets else None)
        )
        last = self.last_breach if self.last_breach is not None and self.last_breach >= horizon else None
        return Verdict(
            breaching=self.length > 0,
            severity=severity,
            started_at=self.start,
            threshold=None if severity is None else {CRITICAL: rule.critical, WARNING: rule.warning}[severity],
            worst=self.worst,
            last_breach_end=None if last is None else last + alerts.BUCKET,
        )

    def within(self, horizon: datetime) -> bool:
        return self.start is None or self.start >= horizon

    def dump(self, rule: Rule) -> list[Any]:
        return [
            *(None if t is None else t.isoformat() for t in (self.newest, self.start, self.last_breach)),
            self.length,
            self.critical,
            None if self.worst is None else str(self.worst),
            str(rule.warning),
            str(rule.critical),
        ]

    @classmethod
    def load(cls, rule: Rule, kept: list[Any] | None) -> Run | None:
        """The fold kept for `rule` (None: none, or folded with other thresholds)."""
        if kept is None or kept[6:] != [str(rule.warning), str(rule.critical)]:
            return None
        newest, start, last, length, critical, worst = kept[:6]

        def instant(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        return cls(
            instant(newest), instant(start), length, critical, None if worst is None else Decimal(worst), instant(last)
        )


def fold(rules: list[Rule], series: dict[str, list[Any]], runs: dict[str, Run]) -> None:
    for rule in rules:
        run = runs[rule.slo]
        for bucket, value in series[rule.slo]:
            run.add(rule, bucket, value)


async def _kept_series(
    conn: asyncpg.Connection, since: dict[str, datetime], end: datetime
) -> dict[str, dict[str, list[Any]]]:
    """The violation rules' measurements of the services of `since`, from the kept buckets."""
    slot_rows: dict[str, list[Any]] = {sid: [] for sid in since}
    call_rows: dict[str, list[Any]] = {sid: [] for sid in since}
    if since:
        for row in await conn.fetch(queries.TALLY_BUCKETS, list(since), list(since.values()), end):
            if row["slots"]:
                slot_rows[row["service_id"]].append(row)
            if row["calls"]:
                call_rows[row["service_id"]].append(row)
    return {sid: measurements(slot_rows[sid], call_rows[sid]) for sid in since}


async def verdicts(
    conn: asyncpg.Connection, services: list[Any], now: datetime
) -> dict[str, dict[str, Verdict | None]]:
    """Per service and violation rule, alerts.judge over its measurements of the look-back (as
    evaluation.measurements_many reads them raw), from each rule's fold kept up to the measurements
    it last took in (slo_tally_runs) and the kept buckets completed since (brought up to `now` by
    keep): usually the one measurement that completed. A fold that cannot be continued (none kept, its
    buckets recomputed, other thresholds, older than the look-back) or whose trailing run reaches
    back past the look-back (the judge would cut it there) is folded again over the look-back."""
    if not services:
        return {}
    end = bucket_floor(now)
    horizon = end - LOOKBACK
    rules = {s["id"]: service_rules(s) for s in services}
    kept = {r["service_id"]: r for r in await conn.fetch(queries.TALLY_RUNS, list(rules))}
    runs: dict[str, dict[str, Run]] = {}
    since: dict[str, datetime] = {}
    for sid, of_service in rules.items():
        row = kept.get(sid)
        loaded = {}
        if row is not None and horizon <= row["judged_to"] <= end:
            stored = json.loads(row["runs"])
            loaded = {rule.slo: Run.load(rule, stored.get(rule.slo)) for rule in of_service}
        if row is not None and loaded and all(run is not None for run in loaded.values()):
            runs[sid] = {slo: run for slo, run in loaded.items() if run is not None}
            since[sid] = row["judged_to"]
        else:
            runs[sid] = {rule.slo: Run() for rule in of_service}
            since[sid] = horizon
    for sid, series in (await _kept_series(conn, since, end)).items():
        fold(rules[sid], series, runs[sid])
    again = {
        sid: horizon for sid in rules if since[sid] > horizon and not all(r.within(horizon) for r in runs[sid].values())
    }
    for sid, series in (await _kept_series(conn, again, end)).items():
        runs[sid] = {rule.slo: Run() for rule in rules[sid]}
        fold(rules[sid], series, runs[sid])
    async with conn.transaction():
        await conn.execute(queries.TALLY_LOCK)
        await conn.execute(
            queries.TALLY_PUT_RUNS,
            list(rules),
            [end] * len(rules),
            [json.dumps({rule.slo: runs[sid][rule.slo].dump(rule) for rule in rules[sid]}) for sid in rules],
        )
    return {
        sid: {rule.slo: runs[sid][rule.slo].verdict(rule, horizon) for rule in of_service}
        for sid, of_service in rules.items()
    }
