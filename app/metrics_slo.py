"""SLO gauges on the API's GET /metrics: per active service and SLO of its tier (app/slo), the running
month's figures as GET /api/slo/{id} computes them — the objective, the error budget allowed and
remaining, the SLI's error ratio and the burn rate over 5m/30m/1h/6h and over the month so far; and
per stored SLO definition (app/slo/definitions) and service it covers, the same gauges with `slo` the
definition's name, over its own window (`period`: the rolling days or calendar unit so far) and burn
windows, as GET /api/slo-definitions/{name}/status computes them.

Names are `slamon_slo_*` with labels `service` and `slo`: names with colons (Sloth's
`slo:sli_error:ratio_rate5m`, Pyrra's `pyrra_requests:rate5m`) are reserved for recording rules, and
promtool refuses them from an exporter. docs/prometheus/slo-rules.yml records these gauges under
Sloth's and Pyrra's names and labels, so that their Grafana dashboards (and docs/grafana/slo.json)
work unchanged.

The figures are computed at most every REFRESH_S by the scrape that finds them older (one at a time);
when the database cannot be reached the last ones are served, and
`slamon_slo_figures_timestamp_seconds` says how old they are."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.errors import DB_UNAVAILABLE
from app.periods import local_date, month
from app.services import service as services
from app.sla.tiers import TIERS
from app.slo import service as slo
from app.slo.definitions import engine as definitions
from app.slo.definitions import service as definition_service
from app.slo.definitions import store as definition_store
from app.slo.definitions.model import Definition
from app.slo.objectives import HUNDRED, objectives

log = logging.getLogger(__name__)
REFRESH_S = 30
PERIOD = "period"  # the window label of the month so far
WINDOWS = tuple(name for name, _ in slo.BURN_WINDOWS)  # 5m, 30m, 1h, 6h


@dataclass(frozen=True)
class SloFigures:
    service: str
    slo: str
    name: str
    target: str  # as the API shows it: percent or ms
    unit: str
    objective_ratio: Decimal  # good events / events the SLO requires (0.999; 0.95 for a P95)
    error_budget_ratio: Decimal  # bad events / events it allows
    period_seconds: int
    events: dict[str, tuple[int, int]]  # window -> (events, bad events)
    budget_unit: str
    budget_remaining: Decimal | None
    budget_total: Decimal | None
    met: bool | None


def _figures(
    service: asyncpg.Record, report: slo.SloReportJson, windows: dict[str, dict[str, Any]], period_seconds: int
) -> Iterator[SloFigures]:
    by_slo = {entry["slo"]: entry for entry in report["slos"]}
    for objective in objectives(TIERS[service["tier"]]):
        entry = by_slo[objective.slo]
        kind = "slots" if objective.events == "slots" else "calls"
        events = {name: (int(w[kind]), int(w[objective.slo])) for name, w in windows.items()}
        events[PERIOD] = (int(entry["events"]["total"]), int(entry["events"]["bad"]))
        budget = entry["errorBudget"]
        yield SloFigures(
            service=service["id"],
            slo=objective.slo,
            name=objective.name,
            target=str(objective.target),
            unit=objective.unit,
            objective_ratio=objective.target_percent / HUNDRED,
            error_budget_ratio=objective.allowed_ratio,
            period_seconds=period_seconds,
            events=events,
            budget_unit=budget["unit"],
            budget_remaining=None if budget["remaining"] is None else Decimal(budget["remaining"]),
            budget_total=None if budget["total"] is None else Decimal(budget["total"]),
            met=entry["met"],
        )


async def compute(conn: asyncpg.Connection, now: datetime, timezone_name: str) -> list[SloFigures]:
    """Every active service's SLO figures for the month running at `now` in the reporting zone."""
    zone = ZoneInfo(timezone_name)
    today = local_date(now, zone)
    period = month(today.year, today.month, zone)
    figures: list[SloFigures] = []
    for service in await services.list_active(conn):
        report = await slo.report(conn, service, period, now, timezone_name)
        windows = await slo.burn_windows(conn, service, now)
        figures.extend(_figures(service, report, windows, int(period.seconds)))
    for stored in await definition_store.list_definitions(conn):
        figures.extend(await _definition_figures(conn, stored.definition, now, zone))
    return figures


async def _definition_figures(
    conn: asyncpg.Connection, definition: Definition, now: datetime, zone: ZoneInfo
) -> list[SloFigures]:
    """A stored definition's figures for each service it covers, one statement for all of them."""
    ids = [s["id"] for s in await definition_service.services_of(conn, definition)]
    window, found = await definitions.figures(conn, definition, ids, now, zone)
    percentile = definition.sli.percentile
    target, unit = (
        (str(definition.sli.good.latency_below_ms), "ms")
        if percentile is not None and definition.sli.good is not None
        else (str(definition.target), "percent")
    )
    figures = []
    for sid in ids:
        fig = found[sid]
        events = {definitions.window_name(m): (e, e - g) for m, (e, g) in fig.windows.items()}
        events[PERIOD] = (fig.events, fig.bad)
        budget = definitions.error_budget(definition, window, fig)
        figures.append(
            SloFigures(
                service=sid,
                slo=definition.name,
                name=definition.display_name,
                target=target,
                unit=unit,
                objective_ratio=definition.target / HUNDRED,
                error_budget_ratio=definition.allowed_ratio,
                period_seconds=int(window.minutes * 60),
                events=events,
                budget_unit=budget["unit"],
                budget_remaining=None if budget["remaining"] is None else Decimal(budget["remaining"]),
                budget_total=None if budget["total"] is None else Decimal(budget["total"]),
                met=definitions.met(definition, fig.good, fig.events),
            )
        )
    return figures


class SloMetrics(Collector):
    """The gauges, from the figures of the last refresh."""

    def __init__(self) -> None:
        self.figures: list[SloFigures] = []
        self.computed_at: float | None = None  # time.time() of the figures
        self._refreshed_at = float("-inf")  # time.monotonic() of the last attempt
        self._lock = asyncio.Lock()

    async def refresh(self, pool: Any, now: datetime, timezone_name: str) -> None:
        # pool: the app's asyncpg.Pool, whose connections are proxies where the services take a Connection
        """Recompute the figures when they are older than REFRESH_S; keep the last ones on a database outage."""
        async with self._lock:
            if time.monotonic() - self._refreshed_at < REFRESH_S:
                return
            self._refreshed_at = time.monotonic()
            try:
                async with pool.acquire() as conn:
                    self.figures = await compute(conn, now, timezone_name)
                self.computed_at = time.time()
            except DB_UNAVAILABLE as exc:
                log.warning("SLO metrics not refreshed, database unavailable: %r", exc)

    def collect(self) -> Iterable[Metric]:
        if self.computed_at is None:
            return
        yield from _families(self.figures)
        stamp = GaugeMetricFamily(
            "slamon_slo_figures_timestamp_seconds",
            "Unix time when the slamon_slo_* figures were computed (at most every 30 s, by a scrape).",
        )
        stamp.add_metric([], self.computed_at)
        yield stamp


def _families(figures: list[SloFigures]) -> Iterator[GaugeMetricFamily]:
    labels = ["service", "slo"]
    info = GaugeMetricFamily(
        "slamon_slo_info",
        "1 per service and SLO of its tier: the SLO's name, target and unit as GET /api/slo shows them, and its "
        "objective in percent of good events.",
        labels=[*labels, "name", "target", "unit", "objective"],
    )
    objective = GaugeMetricFamily(
        "slamon_slo_objective_ratio", "Good events / events the SLO requires (0.999; 0.95 for a P95).", labels=labels
    )
    allowed = GaugeMetricFamily(
        "slamon_slo_error_budget_ratio", "Bad events / events the SLO allows: 1 - objective.", labels=labels
    )
    seconds = GaugeMetricFamily(
        "slamon_slo_period_seconds",
        "Length of the running month (the SLO period) in the reporting zone.",
        labels=labels,
    )
    window_labels = [*labels, "window"]
    total = GaugeMetricFamily(
        "slamon_slo_events", "Events (slots or calls) in the window (5m, 30m, 1h, 6h, period).", labels=window_labels
    )
    bad = GaugeMetricFamily("slamon_slo_bad_events", "Bad events in the window.", labels=window_labels)
    ratio = GaugeMetricFamily(
        "slamon_slo_sli_error_ratio", "Bad events / events in the window (absent without events).", labels=window_labels
    )
    burn = GaugeMetricFamily(
        "slamon_slo_burn_rate",
        "SLI error ratio / error budget ratio (1 spends exactly the budget).",
        labels=window_labels,
    )
    remaining = GaugeMetricFamily(
        "slamon_slo_error_budget_remaining",
        "The month's error budget left, in its unit (minutes of downtime, or calls), as GET /api/slo shows it.",
        labels=[*labels, "unit"],
    )
    remaining_ratio = GaugeMetricFamily(
        "slamon_slo_error_budget_remaining_ratio", "The month's error budget left / the budget.", labels=labels
    )
    met = GaugeMetricFamily("slamon_slo_met", "1 when the SLO is met so far this month, 0 when not.", labels=labels)
    for f in figures:
        key = [f.service, f.slo]
        percent = (f.objective_ratio * HUNDRED).normalize()
        info.add_metric([*key, f.name, f.target, f.unit, f"{percent:f}"], 1)
        objective.add_metric(key, float(f.objective_ratio))
        allowed.add_metric(key, float(f.error_budget_ratio))
        seconds.add_metric(key, f.period_seconds)
        for window, (events, bad_events) in f.events.items():
            total.add_metric([*key, window], events)
            bad.add_metric([*key, window], bad_events)
            if events:
                error_ratio = Decimal(bad_events) / Decimal(events)
                ratio.add_metric([*key, window], float(error_ratio))
                burn.add_metric([*key, window], float(error_ratio / f.error_budget_ratio))
        if f.budget_remaining is not None:
            remaining.add_metric([*key, f.budget_unit], float(f.budget_remaining))
            if f.budget_total:
                remaining_ratio.add_metric(key, float(f.budget_remaining / f.budget_total))
        if f.met is not None:
            met.add_metric(key, 1 if f.met else 0)
    yield from (info, objective, allowed, seconds, total, bad, ratio, burn, remaining, remaining_ratio, met)
