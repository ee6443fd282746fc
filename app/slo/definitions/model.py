"""SLO definitions as data (docs/slos.md): what an SLO measures, over which window, against which
target, and when it alerts. The tier SLOs are definitions too (`tier_definitions`); user-written ones
come from OpenSLO v1 YAML (app/slo/definitions/openslo.py) or the admin API, and are stored in
`slo_definitions` (JSON of `Definition.to_json`).

One SLI shape covers the SLA document's SLOs: a ratio of good events to all events.
- Events are the slots of the service's checks (majority of regions, docs/sla-math.md) or its API
  calls, narrowed by a filter (endpoint, method, status, latency).
- Good events are the events the `good` filter keeps, or those the `bad` filter does not keep.
- A latency percentile target "P95 < 100 ms" is the ratio of calls faster than 100 ms with target
  95 % (`op='gte'`): with nearest-rank percentiles the two are the same statement, so budgets and
  burn rates need no second kind; `Sli.percentile` keeps the percentile for display and for threshold
  alerts measured in milliseconds.
- An error rate "5xx < 0.1 %" is the ratio of calls outside 5xx with target 99.9 % and `op='gt'`
  (strict), which keeps the tier SLOs' boundaries exact.

Windows are rolling (N days ending now) or calendar (week from Monday, month, quarter, in the
reporting zone). Lengths are elapsed time (docs/sla-math.md#periods-and-lengths).

Alerts: multi-window burn rates (both windows at or above the factor), or a threshold held for a
duration over 5-minute measurements (the SLA document's "WARNING 98 % for 1 h", "3 consecutive
measurements")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Source = Literal["checks", "calls"]
Op = Literal["gte", "gt"]
Severity = Literal["WARNING", "CRITICAL"]
Measure = Literal["good_percent", "bad_percent", "percentile_ms"]
Compare = Literal["lt", "gt"]
WindowKind = Literal["rolling", "calendar"]
CalendarUnit = Literal["week", "month", "quarter"]

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")  # DNS label, as OpenSLO's metadata.name
STATUS = re.compile(r"^([1-5])xx$|^([1-5][0-9][0-9])(-([1-5][0-9][0-9]))?$")  # 5xx | 404 | 500-504
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ROLLING_DAYS = range(1, 92)
BUCKET_MINUTES = 5  # threshold alerts measure in 5-minute buckets


class DefinitionError(ValueError):
    """A definition that cannot be evaluated; `field` is the dotted path of the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def status_range(text: str) -> tuple[int, int]:
    """'5xx' -> (500, 599), '404' -> (404, 404), '500-504' -> (500, 504)."""
    found = STATUS.match(text)
    if found is None:
        raise ValueError(f"status {text!r}: expected '5xx', '404' or '500-504'")
    if found.group(1):
        low = int(found.group(1)) * 100
        return low, low + 99
    low = int(found.group(2))
    high = int(found.group(4)) if found.group(4) else low
    if high < low:
        raise ValueError(f"status {text!r}: range ends before it starts")
    return low, high


@dataclass(frozen=True)
class Filter:
    """Which events count; every given field must hold (an empty filter keeps every event).
    `statuses` and `methods` match any of their entries. Checks know only `latency_below_ms`
    (the slot's latency, docs/sla-math.md) and `ok` (the slot's majority verdict)."""

    endpoints: tuple[str, ...] = ()  # exact api_calls.endpoint values, e.g. '/api/v1/agents/{id}/execute'
    methods: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # '2xx', '404', '500-504'
    latency_below_ms: int | None = None  # latency < N
    latency_at_least_ms: int | None = None  # latency >= N
    ok: bool | None = None  # checks: the slot's verdict

    def check(self, path: str, source: Source) -> None:
        for method in self.methods:
            if method not in METHODS:
                raise DefinitionError(f"{path}.methods", f"unknown method {method!r}")
        for status in self.statuses:
            try:
                status_range(status)
            except ValueError as exc:
                raise DefinitionError(f"{path}.statuses", str(exc)) from None
        for name in ("latency_below_ms", "latency_at_least_ms"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 600_000:
                raise DefinitionError(f"{path}.{name}", "must be between 1 and 600000 ms")
        if source == "checks" and (self.endpoints or self.methods or self.statuses or self.latency_at_least_ms):
            raise DefinitionError(path, "checks are filtered by ok and latency_below_ms only")
        if source == "calls" and self.ok is not None:
            raise DefinitionError(f"{path}.ok", "applies to checks only")

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoints": list(self.endpoints),
            "methods": list(self.methods),
            "statuses": list(self.statuses),
            "latencyBelowMs": self.latency_below_ms,
            "latencyAtLeastMs": self.latency_at_least_ms,
            "ok": self.ok,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Filter:
        return cls(
            endpoints=tuple(data.get("endpoints", ())),
            methods=tuple(data.get("methods", ())),
            statuses=tuple(data.get("statuses", ())),
            latency_below_ms=data.get("latencyBelowMs"),
            latency_at_least_ms=data.get("latencyAtLeastMs"),
            ok=data.get("ok"),
        )


@dataclass(frozen=True)
class Sli:
    """Good events / events. Exactly one of `good` and `bad` is given."""

    source: Source
    events: Filter = field(default_factory=Filter)
    good: Filter | None = None
    bad: Filter | None = None
    percentile: Decimal | None = None  # e.g. 95 when this is "P95 < good.latency_below_ms"

    def check(self, path: str) -> None:
        if (self.good is None) == (self.bad is None):
            raise DefinitionError(path, "give exactly one of good and bad")
        self.events.check(f"{path}.events", self.source)
        if self.good is not None:
            self.good.check(f"{path}.good", self.source)
        if self.bad is not None:
            self.bad.check(f"{path}.bad", self.source)
        if self.percentile is not None:
            if not Decimal(0) < self.percentile < Decimal(100):
                raise DefinitionError(f"{path}.percentile", "must be between 0 and 100, exclusive")
            if self.good is None or self.good.latency_below_ms is None:
                raise DefinitionError(f"{path}.percentile", "needs good.latency_below_ms, the percentile's bound")

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "events": self.events.to_json(),
            "good": None if self.good is None else self.good.to_json(),
            "bad": None if self.bad is None else self.bad.to_json(),
            "percentile": None if self.percentile is None else str(self.percentile),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sli:
        return cls(
            source=data["source"],
            events=Filter.from_json(data.get("events") or {}),
            good=None if data.get("good") is None else Filter.from_json(data["good"]),
            bad=None if data.get("bad") is None else Filter.from_json(data["bad"]),
            percentile=None if data.get("percentile") is None else Decimal(data["percentile"]),
        )


@dataclass(frozen=True)
class Window:
    """Rolling `days` ending now, or the calendar `unit` holding now (reporting zone)."""

    kind: WindowKind
    days: int | None = None  # rolling
    unit: CalendarUnit | None = None  # calendar

    def check(self, path: str) -> None:
        if self.kind == "rolling" and (self.days not in ROLLING_DAYS or self.unit is not None):
            raise DefinitionError(f"{path}.days", "a rolling window is 1 to 91 days")
        if self.kind == "calendar" and (self.unit not in ("week", "month", "quarter") or self.days is not None):
            raise DefinitionError(f"{path}.unit", "a calendar window is a week, month or quarter")

    @property
    def label(self) -> str:
        return f"{self.days}d rolling" if self.kind == "rolling" else f"calendar {self.unit}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "days": self.days, "unit": self.unit}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Window:
        return cls(kind=data["kind"], days=data.get("days"), unit=data.get("unit"))


@dataclass(frozen=True)
class BurnRateAlert:
    """Fires while the burn rate over both windows is at least `factor` (1 = spending the budget
    exactly over the SLO's window)."""

    name: str
    severity: Severity
    long_minutes: int
    short_minutes: int
    factor: Decimal

    def check(self, path: str) -> None:
        if not 0 < self.short_minutes < self.long_minutes <= 7 * 24 * 60:
            raise DefinitionError(path, "needs 0 < shortMinutes < longMinutes <= 10080")
        if self.factor <= 0:
            raise DefinitionError(f"{path}.factor", "must be positive")


@dataclass(frozen=True)
class ThresholdAlert:
    """Fires when `minutes` of consecutive 5-minute measurements (a whole number of buckets) all
    compare `compare` to `value`: good or bad events in percent of the bucket's events, or the
    bucket's nearest-rank percentile latency (the SLI's `percentile`) in ms. Buckets without events
    (no data, maintenance) neither break nor extend a run."""

    name: str
    severity: Severity
    measure: Measure
    compare: Compare
    value: Decimal
    minutes: int

    def check(self, path: str, sli: Sli) -> None:
        if self.minutes <= 0 or self.minutes % BUCKET_MINUTES or self.minutes > 24 * 60:
            raise DefinitionError(f"{path}.minutes", "a multiple of 5 minutes, at most one day")
        if self.measure == "percentile_ms" and sli.percentile is None:
            raise DefinitionError(f"{path}.measure", "percentile_ms needs an SLI with a percentile")
        if self.measure != "percentile_ms" and not Decimal(0) <= self.value <= Decimal(100):
            raise DefinitionError(f"{path}.value", "a percentage between 0 and 100")

    @property
    def buckets(self) -> int:
        return self.minutes // BUCKET_MINUTES


Alert = BurnRateAlert | ThresholdAlert


@dataclass(frozen=True)
class Definition:
    """One SLO, evaluated for each of its services separately."""

    name: str  # DNS label, unique
    display_name: str
    description: str
    services: tuple[str, ...]  # service ids; empty: every active service
    sli: Sli
    window: Window
    target: Decimal  # percent of good events, 0 < target < 100
    op: Op = "gte"  # good ratio >= target (gte) or > target (gt)
    alerts: tuple[Alert, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    tier: str | None = None  # set on the built-in tier definitions (read-only)

    def check(self) -> Definition:
        """Raise DefinitionError naming the first wrong field; return self."""
        if not NAME.match(self.name):
            raise DefinitionError("name", "lowercase letters, digits and '-', at most 63, as a DNS label")
        if not Decimal(0) < self.target < Decimal(100):
            raise DefinitionError("target", "a percentage between 0 and 100, exclusive")
        self.sli.check("sli")
        self.window.check("window")
        names: set[str] = set()
        for index, alert in enumerate(self.alerts):
            path = f"alerts[{index}]"
            if not NAME.match(alert.name) or alert.name in names:
                raise DefinitionError(f"{path}.name", "a unique DNS label within the SLO")
            names.add(alert.name)
            if isinstance(alert, BurnRateAlert):
                alert.check(path)
            else:
                alert.check(path, self.sli)
        return self

    @property
    def allowed_ratio(self) -> Decimal:
        """Bad events allowed per event: 1 - target."""
        return 1 - self.target / 100

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "displayName": self.display_name,
            "description": self.description,
            "services": list(self.services),
            "sli": self.sli.to_json(),
            "window": self.window.to_json(),
            "target": str(self.target),
            "op": self.op,
            "alerts": [_alert_json(a) for a in self.alerts],
            "labels": dict(self.labels),
            "tier": self.tier,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Definition:
        return cls(
            name=data["name"],
            display_name=data.get("displayName") or data["name"],
            description=data.get("description") or "",
            services=tuple(data.get("services") or ()),
            sli=Sli.from_json(data["sli"]),
            window=Window.from_json(data["window"]),
            target=Decimal(data["target"]),
            op=data.get("op", "gte"),
            alerts=tuple(_alert_from_json(a) for a in data.get("alerts") or ()),
            labels=dict(data.get("labels") or {}),
            tier=data.get("tier"),
        )


def _alert_json(alert: Alert) -> dict[str, Any]:
    if isinstance(alert, BurnRateAlert):
        return {
            "kind": "burn_rate",
            "name": alert.name,
            "severity": alert.severity,
            "longMinutes": alert.long_minutes,
            "shortMinutes": alert.short_minutes,
            "factor": str(alert.factor),
        }
    return {
        "kind": "threshold",
        "name": alert.name,
        "severity": alert.severity,
        "measure": alert.measure,
        "compare": alert.compare,
        "value": str(alert.value),
        "minutes": alert.minutes,
    }


def _alert_from_json(data: dict[str, Any]) -> Alert:
    if data["kind"] == "burn_rate":
        return BurnRateAlert(
            data["name"], data["severity"], data["longMinutes"], data["shortMinutes"], Decimal(data["factor"])
        )
    return ThresholdAlert(
        data["name"], data["severity"], data["measure"], data["compare"], Decimal(data["value"]), data["minutes"]
    )
