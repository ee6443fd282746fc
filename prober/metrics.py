"""The prober's Prometheus metrics in the text exposition format, every series with HELP and TYPE
(docs/operations.md, "Metrics"). Rendered by hand: a prober's few series are all read at render time
from its parts (runner.py wires them), and integers stay integers in the text."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.0, 10.0, 15.0, 30.0, 60.0)
LAG_BUCKETS_S = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def render(self, name: str, labels: str = "") -> list[str]:
        lines, cumulative = [], 0
        sep = "," if labels else ""
        for bound, count in zip(self.buckets, self.counts):
            cumulative += count
            lines.append(f'{name}_bucket{{{labels}{sep}le="{bound}"}} {cumulative}')
        lines.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        suffix = f"{{{labels}}}" if labels else ""
        lines.append(f"{name}_sum{suffix} {self.total:.6f}")
        lines.append(f"{name}_count{suffix} {self.count}")
        return lines


class ProberMetrics:
    def __init__(self, region: str):
        self.region = region
        # (service_id, outcome, error_type) -> count; service ids are bounded by the catalog
        self.checks: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency = Histogram(LATENCY_BUCKETS_S)
        self.schedule_lag = Histogram(LAG_BUCKETS_S)
        self.missed_slots: Callable[[], int] = lambda: 0  # the scheduler's count (runner wires it)
        self.catch_up_checks = 0
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}  # name -> (help, read)
        self.counters: dict[str, tuple[str, Callable[[], float]]] = {}  # name -> (help, read)
        self.certificates: dict[str, float] = {}  # service_id -> notAfter (epoch seconds) last seen

    def record_check(self, service_id: str, ok: bool, error_type: str | None, latency_ms: int, lag_s: float) -> None:
        self.checks[(service_id, "success" if ok else "failure", error_type or "")] += 1
        self.latency.observe(latency_ms / 1000)
        self.schedule_lag.observe(max(lag_s, 0.0))

    def render(self) -> str:
        region = f'region="{_escape(self.region)}"'
        lines = [
            "# HELP slamon_prober_checks_total Checks run by this prober, by service, outcome and error type.",
            "# TYPE slamon_prober_checks_total counter",
        ]
        for (service_id, outcome, error_type), count in sorted(self.checks.items()):
            lines.append(
                f'slamon_prober_checks_total{{{region},service_id="{_escape(service_id)}",outcome="{outcome}",'
                f'error_type="{_escape(error_type)}"}} {count}'
            )
        lines += [
            "# HELP slamon_prober_check_latency_seconds Check latency (total, all phases).",
            "# TYPE slamon_prober_check_latency_seconds histogram",
        ]
        lines += self.latency.render("slamon_prober_check_latency_seconds", region)
        lines += [
            "# HELP slamon_prober_schedule_lag_seconds Delay between a slot and the start of its check.",
            "# TYPE slamon_prober_schedule_lag_seconds histogram",
        ]
        lines += self.schedule_lag.render("slamon_prober_schedule_lag_seconds", region)
        lines += [
            "# HELP slamon_prober_missed_slots_total Owned slots not measured because their slot ended first.",
            "# TYPE slamon_prober_missed_slots_total counter",
            f"slamon_prober_missed_slots_total{{{region}}} {self.missed_slots()}",
            "# HELP slamon_prober_catch_up_checks_total Slots of a lapsed prober checked late by this one.",
            "# TYPE slamon_prober_catch_up_checks_total counter",
            f"slamon_prober_catch_up_checks_total{{{region}}} {self.catch_up_checks}",
        ]
        lines += [
            "# HELP slamon_prober_certificate_expiry_timestamp_seconds notAfter of the TLS certificate last "
            "presented by each service.",
            "# TYPE slamon_prober_certificate_expiry_timestamp_seconds gauge",
        ]
        lines += [
            f'slamon_prober_certificate_expiry_timestamp_seconds{{{region},service_id="{_escape(service)}"}} '
            f"{not_after:.0f}"
            for service, not_after in sorted(self.certificates.items())
        ]
        for kind, series in (("counter", self.counters), ("gauge", self.gauges)):
            for name, (help_text, read) in sorted(series.items()):
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name}{{{region}}} {read()}"]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
