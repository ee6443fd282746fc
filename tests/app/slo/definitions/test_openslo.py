"""OpenSLO v1 to definitions and back (app/slo/definitions/openslo.py, docs/slos.md): the shipped
example reads as the SLA document says, exports read back equal, and every kind of problem names
the document, the SLO and the field."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.slo.definitions import examples, openslo
from app.slo.definitions.model import (
    BurnRateAlert,
    Definition,
    DefinitionError,
    Filter,
    Sli,
    ThresholdAlert,
    Window,
)

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "docs" / "slos" / "sla-document.yaml"
ZONE = "UTC"


def parse_text(text: str, name: str = "slos.yaml", zone: str = ZONE) -> list[Definition]:
    return openslo.parse([(name, text)], zone)


def problems_of(*objects: dict, name: str = "slos.yaml") -> list[openslo.Problem]:
    with pytest.raises(openslo.OpenSloError) as caught:
        parse_text(yaml.safe_dump_all(objects, sort_keys=False), name)
    return caught.value.problems


# -- the example ----------------------------------------------------------------------------------


def test_the_sla_document_example_is_the_demos_examples():
    """docs/slos/sla-document.yaml is the OpenSLO form of the examples the demo installs
    (app/slo/definitions/examples.py; their content is checked in test_examples.py): one source."""
    assert EXAMPLE.read_text() == examples.openslo_document()
    assert parse_text(EXAMPLE.read_text(), EXAMPLE.name) == examples.examples()


def test_the_example_round_trips():
    definitions = parse_text(EXAMPLE.read_text())
    assert parse_text(openslo.export(definitions, ZONE)) == definitions


def test_export_writes_target_as_a_ratio_and_calendar_windows_in_the_zone():
    definition = parse_text(EXAMPLE.read_text())[0]
    exported = yaml.safe_load(openslo.export([definition], "Europe/Berlin"))
    assert exported["spec"]["objectives"] == [{"op": "gte", "target": 0.999}]
    assert exported["spec"]["timeWindow"] == [
        {
            "duration": "1M",
            "isRolling": False,
            "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Berlin"},
        }
    ]
    assert exported["spec"]["budgetingMethod"] == "Occurrences"


# -- export then parse, over many definitions ------------------------------------------------------

names = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
service_ids = st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,12}\Z")
statuses = st.sampled_from(["2xx", "4xx", "5xx", "404", "408", "500-504"])
latency = st.integers(1, 600_000)
# text PostgreSQL stores (openslo.storable): UTF-8 (no lone surrogates), no NUL
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=80)
percent = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2)


@st.composite
def filters(draw, source: str) -> Filter:
    if source == "checks":
        return Filter(latency_below_ms=draw(st.none() | latency), ok=draw(st.none() | st.booleans()))
    return Filter(
        endpoints=tuple(
            draw(st.lists(st.sampled_from(["/api/v1/agents", "/x/{id}", "/ä/ü"]), max_size=2, unique=True))
        ),
        methods=tuple(draw(st.lists(st.sampled_from(["GET", "POST", "DELETE"]), max_size=2, unique=True))),
        statuses=tuple(draw(st.lists(statuses, max_size=3, unique=True))),
        latency_below_ms=draw(st.none() | latency),
        latency_at_least_ms=draw(st.none() | latency),
    )


@st.composite
def definitions(draw) -> Definition:
    source = draw(st.sampled_from(["checks", "calls"]))
    percentile = draw(st.none() | st.decimals(min_value=Decimal("0.5"), max_value=Decimal("99.9"), places=1))
    good = draw(st.none() | filters(source))
    if percentile is not None:
        good = Filter(latency_below_ms=draw(latency))
    sli = Sli(
        source=source,
        events=draw(filters(source)),
        good=good,
        bad=None if good is not None else draw(filters(source)),
        percentile=percentile,
    )
    alerts = []
    for index in range(draw(st.integers(0, 3))):
        severity = draw(st.sampled_from(["WARNING", "CRITICAL"]))
        if draw(st.booleans()):
            short = draw(st.integers(1, 600))
            alerts.append(
                BurnRateAlert(
                    f"alert-{index}",
                    severity,
                    draw(st.integers(short + 1, 10080)),
                    short,
                    draw(st.decimals(min_value=Decimal("0.1"), max_value=Decimal(50), places=1)),
                )
            )
        else:
            measure = draw(st.sampled_from(["good_percent", "bad_percent"] + (["percentile_ms"] if percentile else [])))
            value = draw(percent) if measure != "percentile_ms" else Decimal(draw(latency))
            alerts.append(
                ThresholdAlert(
                    f"alert-{index}",
                    severity,
                    measure,
                    draw(st.sampled_from(["lt", "gt"])),
                    value,
                    5 * draw(st.integers(1, 288)),
                )
            )
    window = draw(
        st.builds(Window, kind=st.just("rolling"), days=st.integers(1, 91))
        | st.builds(Window, kind=st.just("calendar"), unit=st.sampled_from(["week", "month", "quarter"]))
    )
    return Definition(
        name=draw(names),
        display_name=draw(texts.filter(bool) | st.sampled_from(["a\x85b", "\u2028", "SLO-001 가용성"])),
        description=draw(texts),
        services=tuple(draw(st.lists(service_ids, max_size=3, unique=True))),
        sli=sli,
        window=window,
        target=draw(percent),
        op=draw(st.sampled_from(["gte", "gt"])),
        alerts=tuple(alerts),
        labels=draw(st.dictionaries(st.from_regex(r"\A[a-z][a-z0-9-]{0,10}\Z"), texts, max_size=3)),
        tier=draw(st.none() | st.sampled_from(["enterprise", "developer"])),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(definitions(), min_size=1, max_size=4, unique_by=lambda d: d.name))
def test_export_then_parse_gives_the_same_definitions(batch):
    checked = []
    for definition in batch:
        try:
            checked.append(definition.check())
        except DefinitionError:
            continue
    if checked:
        assert parse_text(openslo.export(checked, ZONE)) == checked


# -- problems: each names the document, the SLO and the field --------------------------------------

SLO = {
    "apiVersion": "openslo/v1",
    "kind": "SLO",
    "metadata": {"name": "checkout"},
    "spec": {
        "service": "id-recognition",
        "indicator": {
            "spec": {
                "ratioMetric": {
                    "counter": True,
                    "good": {"metricSource": {"type": "slamon", "spec": {"source": "checks", "ok": True}}},
                    "total": {"metricSource": {"type": "slamon", "spec": {"source": "checks"}}},
                }
            }
        },
        "timeWindow": [{"duration": "28d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"target": 0.999}],
    },
}
RATIO = "spec.indicator.spec.ratioMetric"


def changed(path: str, value, base: dict = SLO) -> dict:
    """A copy of `base` with the dotted `path` set (or removed when value is ...)."""
    out = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def test_a_valid_slo_parses():
    (definition,) = parse_text(yaml.safe_dump(SLO))
    assert definition.target == Decimal("99.9") and definition.window == Window("rolling", days=28)


@pytest.mark.parametrize(
    "path, value, field, message",
    [
        ("spec.foo", 1, "spec.foo", "unknown field 'spec.foo'"),
        ("metadata.owner", "me", "metadata.owner", "unknown field 'metadata.owner'"),
        (
            f"{RATIO}.good.metricSource.spec.region",
            "eu",
            f"{RATIO}.good.metricSource.spec.region",
            "unknown field",
        ),
        ("spec.timeWindow.0.duration", "28x", "spec.timeWindow[0].duration", "expected a duration"),
        ("spec.timeWindow.0.duration", "92d", "spec.timeWindow[0].duration", "1d to 91d"),
        ("spec.timeWindow.0.duration", "2M", "spec.timeWindow[0].duration", "1d to 91d"),
        ("spec.budgetingMethod", "Timeslices", "spec.budgetingMethod", "'Timeslices' is not supported"),
        ("spec.budgetingMethod", "RatioTimeslices", "spec.budgetingMethod", "only Occurrences"),
        ("spec.objectives.0.target", 1.5, "spec.objectives[0].target", "between 0 and 1"),
        ("spec.objectives.0.target", "high", "spec.objectives[0].target", "expected a number"),
        ("spec.objectives.0", {"targetPercent": 100}, "spec.objectives[0].targetPercent", "between 0 and 100"),
        (
            "spec.objectives.0",
            {"target": 0.9, "timeSliceTarget": 0.9},
            "spec.objectives[0].timeSliceTarget",
            "not supported",
        ),
        ("spec.objectives.0", {"target": 0.9, "op": "lte"}, "spec.objectives[0].op", "'lte' is not supported"),
        ("spec.objectives", [{"target": 0.9}, {"target": 0.99}], "spec.objectives", "exactly one objective"),
        (f"{RATIO}.counter", False, f"{RATIO}.counter", "counter: false is not supported"),
        (f"{RATIO}.good.metricSource.type", "prometheus", f"{RATIO}.good.metricSource.type", "only 'slamon'"),
        (
            f"{RATIO}.total.metricSource.spec.source",
            "logs",
            f"{RATIO}.total.metricSource.spec.source",
            "checks or calls",
        ),
        (
            f"{RATIO}.total.metricSource.spec.source",
            "calls",
            f"{RATIO}.good.metricSource.spec.source",
            "one source per SLI",
        ),
        (f"{RATIO}.good.metricSource.spec.statuses", ["5xx"], f"{RATIO}.good.metricSource.spec", "checks are filtered"),
        (
            f"{RATIO}.good.metricSource.spec.percentile",
            95,
            f"{RATIO}.good.metricSource.spec.percentile",
            "latencyBelowMs",
        ),
        ("spec.indicator.spec", {"thresholdMetric": {}}, "spec.indicator.spec.thresholdMetric", "not supported"),
        ("spec.indicator", ..., "spec.indicator", "exactly one of indicator and indicatorRef"),
        ("spec.indicatorRef", "nope", "spec.indicator", "exactly one of indicator and indicatorRef"),
        ("spec.service", "Not A Service", "spec.service", "not a service id"),
        ("spec.service", ..., "spec.service", "required"),
        ("metadata.name", "Checkout", "metadata.name", "DNS label"),
        ("apiVersion", "openslo/v2alpha", "apiVersion", "expected 'openslo/v1'"),
        ("kind", "DataSource", "kind", "'DataSource' is not supported"),
        (
            "spec.timeWindow.0",
            {"duration": "1M", "calendar": {"timeZone": "Asia/Seoul"}},
            "spec.timeWindow[0].calendar.timeZone",
            "'UTC'",
        ),
        (
            "spec.timeWindow.0",
            {"duration": "1w", "isRolling": False, "calendar": {"startTime": "2024-01-02 00:00:00"}},
            "spec.timeWindow[0].calendar.startTime",
            "on a Monday",
        ),
        ("metadata.annotations", {"team": "payments"}, "metadata.annotations.team", "unknown field"),
        ("metadata.labels", {"team": ["a", "b"]}, "metadata.labels.team", "expected a string"),
    ],
)
def test_each_problem_names_the_document_the_slo_and_the_field(path, value, field, message):
    problems = problems_of(changed(path, value))
    assert [(p.document, p.field) for p in problems] == [("slos.yaml#1", field)], problems
    (problem,) = problems
    # the SLO as written (even a name that is itself the problem); none for an object of another kind
    assert problem.slo == {"kind": None, "metadata.name": value}.get(path, "checkout")
    assert message in problem.message, problem
    assert str(problem).startswith("slos.yaml#1")


def alert_policy(name: str, condition: dict, severity: str = "WARNING") -> dict:
    return {
        "kind": "AlertPolicy",
        "metadata": {"name": name},
        "spec": {
            "conditions": [
                {
                    "kind": "AlertCondition",
                    "metadata": {"name": name},
                    "spec": {"severity": severity, "condition": condition},
                }
            ]
        },
    }


BURN = {"kind": "burnrate", "op": "gte", "threshold": 14.4, "lookbackWindow": "1h", "alertAfter": "5m"}
THRESHOLD = {"kind": "slamon/threshold", "measure": "goodPercent", "op": "lt", "threshold": 98, "alertAfter": "1h"}
CONDITION = "spec.alertPolicies[0].spec.conditions[0].spec"


@pytest.mark.parametrize(
    "policy, field, message",
    [
        (alert_policy("fast", {**BURN, "op": "lt"}), f"{CONDITION}.condition.op", "a burn rate alert is gte"),
        (alert_policy("fast", {**BURN, "lookbackWindow": "soon"}), f"{CONDITION}.condition.lookbackWindow", "duration"),
        (alert_policy("fast", {**BURN, "alertAfter": "2h"}), f"{CONDITION}.condition", "shortMinutes < longMinutes"),
        (
            alert_policy("fast", {**BURN, "kind": "anomaly"}),
            f"{CONDITION}.condition.kind",
            "'anomaly' is not supported",
        ),
        (alert_policy("fast", BURN, "page"), f"{CONDITION}.severity", "WARNING or CRITICAL"),
        (alert_policy("slow", {**THRESHOLD, "alertAfter": "7m"}), f"{CONDITION}.condition.alertAfter", "multiple of 5"),
        (alert_policy("slow", {**THRESHOLD, "lookbackWindow": "1h"}), f"{CONDITION}.condition.lookbackWindow", "5m"),
        (alert_policy("slow", {**THRESHOLD, "measure": "p95"}), f"{CONDITION}.condition.measure", "goodPercent"),
        (
            alert_policy("slow", {**THRESHOLD, "measure": "percentileMs"}),
            f"{CONDITION}.condition.measure",
            "needs an SLI with a percentile",
        ),
        (
            {
                **alert_policy("slow", THRESHOLD),
                "spec": {**alert_policy("slow", THRESHOLD)["spec"], "notificationTargets": [{"targetRef": "x"}]},
            },
            "spec.alertPolicies[0].spec.notificationTargets",
            "escalation.toml",
        ),
        (
            {
                **alert_policy("slow", THRESHOLD),
                "spec": {**alert_policy("slow", THRESHOLD)["spec"], "alertWhenNoData": True},
            },
            "spec.alertPolicies[0].spec.alertWhenNoData",
            "not supported",
        ),
        ({"alertPolicyRef": "nope"}, "spec.alertPolicies[0].alertPolicyRef", "no AlertPolicy named 'nope'"),
    ],
)
def test_alert_problems_name_the_field(policy, field, message):
    problems = problems_of(changed("spec.alertPolicies", [policy]))
    assert [(p.document, p.slo, p.field) for p in problems] == [("slos.yaml#1", "checkout", field)], problems
    assert message in problems[0].message


def test_two_alerts_of_one_name_are_refused():
    policies = [alert_policy("fast", BURN), alert_policy("fast", BURN)]
    (problem,) = problems_of(changed("spec.alertPolicies", policies))
    assert problem.field == "spec.alertPolicies[1].metadata.name"


def test_references_resolve_across_files_and_problems_in_a_referenced_object_name_it():
    sli = {
        "apiVersion": "openslo/v1",
        "kind": "SLI",
        "metadata": {"name": "calls-ok"},
        "spec": {
            "ratioMetric": {
                "bad": {"metricSource": {"type": "slamon", "spec": {"source": "calls", "statuses": ["5xx"]}}},
                "total": {"metricSource": {"type": "slamon", "spec": {"source": "calls"}}},
            }
        },
    }
    condition = {
        "apiVersion": "openslo/v1",
        "kind": "AlertCondition",
        "metadata": {"name": "fast"},
        "spec": {"severity": "CRITICAL", "condition": BURN},
    }
    policy = {
        "apiVersion": "openslo/v1",
        "kind": "AlertPolicy",
        "metadata": {"name": "page-fast"},
        "spec": {"conditions": [{"conditionRef": "fast"}]},
    }
    slo = changed("spec.indicator", ..., changed("spec.indicatorRef", "calls-ok"))
    slo = changed("spec.alertPolicies", [{"alertPolicyRef": "page-fast"}], slo)
    shared = yaml.safe_dump_all([sli, condition, policy], sort_keys=False)
    (definition,) = openslo.parse([("slos.yaml", yaml.safe_dump(slo)), ("shared.yaml", shared)], ZONE)
    assert definition.sli == Sli(source="calls", bad=Filter(statuses=("5xx",)))
    assert definition.alerts == (BurnRateAlert("page-fast", "CRITICAL", 60, 5, Decimal("14.4")),)

    broken = changed("spec.ratioMetric.bad.metricSource.spec.source", "logs", sli)
    shared = yaml.safe_dump_all([broken, condition, policy], sort_keys=False)
    with pytest.raises(openslo.OpenSloError) as caught:
        openslo.parse([("slos.yaml", yaml.safe_dump(slo)), ("shared.yaml", shared)], ZONE)
    assert [(p.document, p.slo, p.field) for p in caught.value.problems] == [
        ("slos.yaml#1", "checkout", "spec.indicatorRef"),
        ("shared.yaml#1", "checkout", "spec.ratioMetric.bad.metricSource.spec.source"),
    ]
    assert "SLI 'calls-ok' is invalid (shared.yaml#1)" in caught.value.problems[0].message


def test_every_problem_of_a_file_is_reported_not_only_the_first():
    good = changed("metadata.name", "fine")
    bad_one = changed("spec.budgetingMethod", "Timeslices", changed("metadata.name", "one"))
    bad_two = changed("spec.objectives.0.target", 2, changed("spec.extra", 1, changed("metadata.name", "two")))
    problems = problems_of(good, bad_one, bad_two, changed("metadata.name", "one"))
    assert [(p.document, p.slo, p.field) for p in problems] == [
        ("slos.yaml#2", "one", "spec.budgetingMethod"),
        ("slos.yaml#3", "two", "spec.extra"),
        ("slos.yaml#3", "two", "spec.objectives[0].target"),
        ("slos.yaml#4", "one", "metadata.name"),  # a second SLO of the same name
    ]


def test_unreadable_yaml_names_the_file_and_line():
    with pytest.raises(openslo.OpenSloError) as caught:
        parse_text("apiVersion: openslo/v1\nkind: [SLO\n", "broken.yaml")
    (problem,) = caught.value.problems
    assert problem.document == "broken.yaml" and "not valid YAML (line 3" in problem.message


def test_an_empty_file_is_a_problem():
    with pytest.raises(openslo.OpenSloError, match="holds no OpenSLO objects"):
        parse_text("# nothing\n", "empty.yaml")


def test_services_annotation_lists_several_services_or_every_one():
    several = changed("metadata.annotations", {"slamon/services": "id-recognition, face-compare"})
    every = changed("metadata.annotations", {"slamon/services": "*"}, changed("spec.service", "all"))
    assert parse_text(yaml.safe_dump(several))[0].services == ("id-recognition", "face-compare")
    assert parse_text(yaml.safe_dump(every))[0].services == ()
    (problem,) = problems_of(changed("spec.service", "curp-verifier", several))
    assert (problem.field, problem.message) == (
        "spec.service",
        "'curp-verifier' is not among metadata.annotations.slamon/services",
    )


def test_target_percent_rolling_weeks_and_inline_sli_metadata_are_read():
    slo = changed("spec.objectives.0", {"targetPercent": 99.95, "displayName": "main"})
    slo = changed("spec.timeWindow.0", {"duration": "2w", "isRolling": True}, slo)
    slo = changed("spec.indicator.metadata", {"name": "checkout-sli", "displayName": "Checkout"}, slo)
    (definition,) = parse_text(yaml.safe_dump(slo))
    assert (definition.target, definition.window) == (Decimal("99.95"), Window("rolling", days=14))


def test_the_problems_within_one_object_are_all_reported():
    slo = changed(f"{RATIO}.counter", False)
    slo = changed(f"{RATIO}.good.metricSource.type", "prometheus", slo)
    slo = changed("spec.objectives.0", {"target": 0.9, "timeSliceWindow": "1m", "compositeWeight": 2}, slo)
    problems = problems_of(slo)
    assert [p.field for p in problems] == [
        f"{RATIO}.counter",
        f"{RATIO}.good.metricSource.type",
        "spec.objectives[0].timeSliceWindow",
        "spec.objectives[0].compositeWeight",
    ]
