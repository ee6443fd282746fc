"""The SLA document's SLO-001..006 (seeds/002) as definitions: the examples the demo installs and runs
against its services (app/seed.py writes calls on the document's /api/v1/agents endpoints). The
same SLOs are written as OpenSLO in docs/slos/sla-document.yaml (`openslo_document`, below). What
each cannot measure is said in docs/sla-math.md#slo-definitions:

- SLO-001: availability of the checks (2xx/3xx answers), 99.9 % a calendar month; burn-rate alerts.
- SLO-002: availability, 99.9 % over a rolling 7 days (10 minutes of budget a week); WARNING below
  98 % for 1 h, CRITICAL below 97 % for 30 min.
- SLO-003: per endpoint, P95 latency below its target over a rolling day ("measured every 5 minutes,
  aggregated daily"), violated after 3 consecutive 5-minute measurements over the target.
- SLO-004: cold and warm start times are CloudWatch metrics the product does not receive; what it
  measures is the latency of the execute call, which holds the start: P95 < 5 s and P99 < 10 s (the
  Professional cold-start targets, the loosest bound a start must meet), WARNING when the P95 of an
  hour is over 80 % of its target (the document's optimisation trigger).
- SLO-005: 4xx below 5 % and 5xx below 0.1 % (strict), per 5-minute measurement WARNING over 8 % /
  0.2 %, CRITICAL over 10 % / 0.5 %.
- SLO-006: agent executions (calls of the execute endpoint): success rate above 99.5 % (2xx/3xx)
  and timeout rate below 0.1 %, a timeout being an answer 408 or 504 (a call the client gave up on
  never reaches api_calls); memory errors are not visible in calls."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from app.slo.definitions import queries, store
from app.slo.definitions.model import (
    BurnRateAlert,
    Definition,
    Filter,
    Sli,
    ThresholdAlert,
    Window,
)

DAY = Window("rolling", days=1)
EXECUTE = "/api/v1/agents/{id}/execute"
# SLO-003: (method, endpoint, P95 target ms, name)
ENDPOINT_TARGETS = (
    ("GET", "/api/v1/agents", 100, "slo-003-list-agents"),
    ("POST", "/api/v1/agents", 500, "slo-003-create-agent"),
    ("POST", EXECUTE, 1000, "slo-003-execute-agent"),
    ("GET", "/api/v1/agents/{id}/status", 50, "slo-003-agent-status"),
)
BURN_ALERTS = (
    BurnRateAlert("burn-rate-fast", "CRITICAL", 60, 5, Decimal("14.4")),
    BurnRateAlert("burn-rate-slow", "WARNING", 360, 30, Decimal(6)),
)


def _p95(method: str, endpoint: str, target_ms: int, name: str) -> Definition:
    return Definition(
        name=name,
        display_name=f"SLO-003 {method} {endpoint} P95 < {target_ms} ms",
        description=f"P95 latency of {method} {endpoint} below {target_ms} ms over a rolling day; violated after "
        "3 consecutive 5-minute measurements over the target.",
        services=(),
        sli=Sli(
            "calls",
            events=Filter(endpoints=(endpoint,), methods=(method,)),
            good=Filter(latency_below_ms=target_ms),
            percentile=Decimal(95),
        ),
        window=DAY,
        target=Decimal(95),
        alerts=(ThresholdAlert("over-target", "WARNING", "percentile_ms", "gt", Decimal(target_ms), 15),),
        labels={"document": "SLO-003"},
    )


def _execute_latency(q: int, target_ms: int) -> Definition:
    return Definition(
        name=f"slo-004-execute-p{q}",
        display_name=f"SLO-004 agent execution P{q} < {target_ms // 1000} s",
        description=f"P{q} latency of the execute call below {target_ms} ms over a rolling day: the part of "
        "SLO-004 (start times) the product measures, from the calls (docs/sla-math.md#slo-definitions).",
        services=(),
        sli=Sli(
            "calls",
            events=Filter(endpoints=(EXECUTE,), methods=("POST",)),
            good=Filter(latency_below_ms=target_ms),
            percentile=Decimal(q),
        ),
        window=DAY,
        target=Decimal(q),
        alerts=(
            ThresholdAlert("optimisation-trigger", "WARNING", "percentile_ms", "gt", Decimal(target_ms * 8 // 10), 60),
        ),
        labels={"document": "SLO-004"},
    )


def _error_rate(family: str, target: str, warning: str, critical: str) -> Definition:
    return Definition(
        name=f"slo-005-{family}",
        display_name=f"SLO-005 {family} error rate < {Decimal(100) - Decimal(target)} %",
        description=f"{family} answers below {Decimal(100) - Decimal(target)} % of the calls over a rolling day; "
        f"per 5-minute measurement WARNING over {warning} %, CRITICAL over {critical} %.",
        services=(),
        sli=Sli("calls", bad=Filter(statuses=(family,))),
        window=DAY,
        target=Decimal(target),
        op="gt",
        alerts=(
            ThresholdAlert("warning", "WARNING", "bad_percent", "gt", Decimal(warning), 5),
            ThresholdAlert("critical", "CRITICAL", "bad_percent", "gt", Decimal(critical), 5),
        ),
        labels={"document": "SLO-005"},
    )


def examples() -> list[Definition]:
    """SLO-001..006, in the document's order."""
    executions = Filter(endpoints=(EXECUTE,), methods=("POST",))
    found = [
        Definition(
            name="slo-001-availability",
            display_name="SLO-001 platform availability",
            description="Slots of the checks answered 2xx/3xx, 99.9 % of a calendar month (the Professional "
            "target; the tier definitions hold every tier's).",
            services=(),
            sli=Sli("checks", good=Filter(ok=True)),
            window=Window("calendar", unit="month"),
            target=Decimal("99.9"),
            alerts=BURN_ALERTS,
            labels={"document": "SLO-001"},
        ),
        Definition(
            name="slo-002-weekly-availability",
            display_name="SLO-002 weekly availability",
            description="99.9 % over a rolling 7 days (10 minutes of budget a week); WARNING below 98 % for 1 h, "
            "CRITICAL below 97 % for 30 min.",
            services=(),
            sli=Sli("checks", good=Filter(ok=True)),
            window=Window("rolling", days=7),
            target=Decimal("99.9"),
            alerts=(
                ThresholdAlert("warning", "WARNING", "good_percent", "lt", Decimal(98), 60),
                ThresholdAlert("critical", "CRITICAL", "good_percent", "lt", Decimal(97), 30),
            ),
            labels={"document": "SLO-002"},
        ),
        *(_p95(*target) for target in ENDPOINT_TARGETS),
        _execute_latency(95, 5000),
        _execute_latency(99, 10000),
        _error_rate("4xx", "95", "8", "10"),
        _error_rate("5xx", "99.9", "0.2", "0.5"),
        Definition(
            name="slo-006-execution-success",
            display_name="SLO-006 agent execution success rate > 99.5 %",
            description="Executions answered 2xx/3xx, above 99.5 % over a rolling 7 days.",
            services=(),
            sli=Sli("calls", events=executions, good=Filter(statuses=("2xx", "3xx"))),
            window=Window("rolling", days=7),
            target=Decimal("99.5"),
            op="gt",
            labels={"document": "SLO-006"},
        ),
        Definition(
            name="slo-006-execution-timeouts",
            display_name="SLO-006 agent execution timeout rate < 0.1 %",
            description="Executions answered 408 or 504 (a timeout), below 0.1 % over a rolling 7 days.",
            services=(),
            sli=Sli("calls", events=executions, bad=Filter(statuses=("408", "504"))),
            window=Window("rolling", days=7),
            target=Decimal("99.9"),
            op="gt",
            labels={"document": "SLO-006"},
        ),
    ]
    return [d.check() for d in found]


async def install(conn: asyncpg.Connection) -> list[str]:
    """Store the examples never stored (an edited or deleted one is left as it is); the names stored."""
    known = {r["name"] for r in await conn.fetch(queries.EVERY_NAME)}
    installed = []
    for definition in examples():
        if definition.name not in known:
            await store.put(conn, definition, "example")
            installed.append(definition.name)
    return installed


HEADER = """\
# The SLA document's SLO-001..006 (seeds/002) as OpenSLO v1, for `slamon slo apply -f`: the examples
# the demo installs (app/slo/definitions/examples.py), written by
# `python -m app.slo.definitions.examples > docs/slos/sla-document.yaml` (a test keeps the two equal).
# The encoding (metric source type `slamon`, the services annotation, alert conditions) is described in
# docs/slos.md; what each SLO cannot measure in docs/sla-math.md#slo-definitions. `slamon/services: '*'`
# covers every active service: name yours there (or in spec.service). Calendar windows are in the
# reporting time zone (SLAMON_TIMEZONE, UTC by default): change `timeZone` with it.
"""


def openslo_document(reporting_zone: str = "UTC") -> str:
    """The examples as the OpenSLO file docs/slos/sla-document.yaml."""
    from app.slo.definitions import openslo  # openslo reads the store, which the examples install through

    return HEADER + openslo.export(examples(), reporting_zone)


if __name__ == "__main__":
    print(openslo_document(), end="")
