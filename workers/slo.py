"""Cron, every minute: SLO evaluation (app/slo/evaluation.py) of the active services whose inputs
changed since the last run or whose result time alone changes now (app/slo/sweep.py), from the
figures kept between runs (app/slo/tally.py), then
`sla-metrics-updated` {evaluatedAt, services: [{serviceId, metrics, changes}, …]} to the `slo` room: one
event a run (up to SERVICES_PER_EVENT services each) with every service whose SLO figures or
violations changed since the last announcement (metrics: the GET /api/slo/{id} body)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import asyncpg
from fastapi.encoders import decimal_encoder, jsonable_encoder

from app.formatting import utc_iso
from app.periods import local_date, month
from app.services import service as services
from app.slo import evaluation, sweep, tally
from app.slo import service as slo
from app.slo.alerts import Verdict
from app.slo.public import violation_to_public
from workers.common import TRANSIENT, Ctx, EventPublisher, each_service, retrying

log = logging.getLogger(__name__)
ROOMS = ["slo"]
# A run's changes go out as one event (two Redis round trips, not two per service), split so that no
# event is too large for a client to take at once (a report is ≈ 2.7 KB of JSON: ≈ 0.65 MB an event).
SERVICES_PER_EVENT = 250
# The replay stream keeps the events of the last runs only: a client away longer re-fetches.
RETAINED_RUNS = 10


def encode(value: Any) -> Any:
    """fastapi's jsonable_encoder for what a report holds (dicts, lists, plain scalars, Decimals), at a
    fraction of its cost (a run announces a report per service); anything else goes to it."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    if kind is dict:
        return {encode(k): encode(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [encode(v) for v in value]
    if kind is Decimal:
        return decimal_encoder(value)
    return jsonable_encoder(value)


def digest(report: slo.SloReportJson) -> str:
    """What a change means: the SLO figures and the open violations' severities and worst values
    (not the clock: an open violation's duration grows every minute)."""
    essence = {
        "slos": report["slos"],
        "open": [(v["id"], v["severity"], v["worstValue"]) for v in report["openViolations"]],
    }
    return hashlib.sha256(json.dumps(essence, default=str, sort_keys=True).encode()).hexdigest()


@retrying
async def evaluate_slos(ctx: Ctx) -> dict[str, list[str] | str]:
    """Open, escalate and close violations of the services due; announce what changed."""
    return await sweep_slos(ctx, datetime.now(timezone.utc))


async def sweep_slos(ctx: Ctx, now: datetime, *, full: bool = False) -> dict[str, list[str] | str]:
    """The SLO evaluation at `now`; `full`: every active service, whatever changed (the reference the
    incremental sweep is tested and benchmarked against). The services due are evaluated together:
    their data read in a few statements for all of them, their violations written in one transaction
    (a service whose evaluation fails is then retried alone, so that the others still get theirs)."""
    settings = ctx["settings"]
    today = local_date(now, settings.zone)
    period = month(today.year, today.month, settings.zone)
    async with ctx["pool"].acquire() as conn:
        for change in await evaluation.close_inactive(conn):
            log.info(
                "SLO violation closed: %s left the catalog",
                change.violation["slo"],
                extra={"service_id": change.violation["service_id"], "job": "evaluate_slos"},
            )
        active = {s["id"]: s for s in await services.list_active(conn)}
        work = await sweep.plan(conn, now, period.label, list(active), full=full)
        due = [active[sid] for sid in active if sid in work]
        scope = await sweep.scopes(conn, work, now)
        verdicts: dict[str, dict[str, Verdict | None]] | None = None
        calls: dict[str, dict[str, Any]] | None = None
        if full:  # every figure from raw rows: the reference
            windows = await slo.burn_windows_many(conn, due, now)
        else:  # from the figures kept between runs, brought up to now (app/slo/tally.py)
            calls = await tally.keep(conn, due, work, period, now)
            windows = await tally.windows(conn, due, now)
            verdicts = await tally.verdicts(conn, [s for s in due if scope[s["id"]].rules], now)

        async def one(conn: asyncpg.Connection, sid: str) -> list[evaluation.Change]:
            async with conn.transaction():
                changes = await evaluation.evaluate(
                    conn, active[sid], now, rules=scope[sid].rules, burns=scope[sid].burns
                )
                await sweep.finish(conn, {sid: work[sid]}, scope, now)
            return changes

        try:
            async with conn.transaction():  # the violations and the bookkeeping: one commit
                found: dict[str, list[evaluation.Change] | str] = dict(
                    await evaluation.evaluate_many(
                        conn,
                        due,
                        now,
                        rules={sid for sid, s in scope.items() if s.rules},
                        burns={sid for sid, s in scope.items() if s.burns},
                        windows=windows,
                        verdicts=verdicts,
                    )
                )
                await sweep.finish(conn, work, scope, now)
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 — one service's bug: evaluate them one by one (logged there)
            found = await each_service("evaluate_slos", [s["id"] for s in due], lambda sid: one(conn, sid))

        reports = await slo.reports(conn, due, period, now, settings.timezone, windows, calls)
        await announce(ctx["publisher"], reports, found, now)
    return {
        sid: changes if isinstance(changes, str) else [f"{c.kind}:{c.violation['slo']}" for c in changes]
        for sid, changes in found.items()
    }


async def announce(
    publisher: EventPublisher,
    reports: dict[str, slo.SloReportJson],
    found: dict[str, list[evaluation.Change] | str],
    now: datetime,
) -> None:
    """`sla-metrics-updated` with every service whose figures or violations changed; log the changes."""
    evaluated = {sid: changes for sid, changes in found.items() if isinstance(changes, list)}
    # a service whose evaluation failed (logged) is announced at its next run
    changed = await publisher.changed_many({f"slo-digest:{sid}": digest(reports[sid]) for sid in evaluated})
    updates = [
        {
            "serviceId": sid,
            "metrics": encode(reports[sid]),
            "changes": [{"kind": c.kind, "violation": encode(violation_to_public(c.violation, now))} for c in changes],
        }
        for sid, changes in evaluated.items()
        if changed[f"slo-digest:{sid}"] or changes
    ]
    seqs = []
    for start in range(0, len(updates), SERVICES_PER_EVENT):
        data = {"evaluatedAt": utc_iso(now), "services": updates[start : start + SERVICES_PER_EVENT]}
        seq = await publisher.publish("sla-metrics-updated", data, ROOMS)
        seqs += [seq] if seq else []
    try:
        await publisher.publisher.retire("sla-metrics-updated", seqs, RETAINED_RUNS)
    except Exception:  # noqa: BLE001 — the events went out; only the stream's bound waits for the next run
        log.exception("realtime: could not retire old sla-metrics-updated events", extra={"job": "evaluate_slos"})
    for sid, changes in evaluated.items():
        for change in changes:
            log.info(
                "SLO violation %s: %s %s",
                change.kind,
                change.violation["slo"],
                change.violation["severity"],
                extra={"service_id": sid, "job": "evaluate_slos"},
            )
