"""The SLO gauges of GET /metrics (app/metrics_slo.py): their figures against an independent count of the
rows written and against GET /api/slo; promtool accepts the exposition; the recording rules of
docs/prometheus/slo-rules.yml turn them into Sloth's and Pyrra's series (`promtool test rules`); the
Grafana dashboard of docs/grafana queries only series that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.ingest import service as ingest
from app.sla.tiers import TIERS
from app.slo.definitions import store as definition_store
from app.slo.definitions.model import Definition, Filter, Sli, Window
from tests.app.conftest import ROOT
from tests.test_metrics import assert_clean_and_documented

SERVICE = "face-compare"
RULES = ROOT / "docs" / "prometheus" / "slo-rules.yml"


def calls_written(now: datetime) -> pd.DataFrame:
    """50 calls: 40 in the last 4 minutes (some 5xx, 4xx, slow), 10 twenty minutes ago."""
    rows = []
    for i in range(40):
        status = 503 if i % 10 == 3 else 404 if i % 20 == 7 else 200
        rows.append((now - timedelta(seconds=230 - 5 * i), status, 150 + 37 * i))
    for i in range(10):
        rows.append((now - timedelta(minutes=20, seconds=i), 500 if i == 0 else 200, 90))
    return pd.DataFrame(rows, columns=["ts", "status", "latency_ms"])


def families(body: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(body) if f.name.startswith("slamon_slo")}


def gauge(body: str, name: str, **labels: str) -> float | None:
    for sample in families(body).get(name, []):
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


@pytest.fixture
async def scraped(conn, make_client):
    now = datetime.now(timezone.utc)
    calls = calls_written(now)
    await ingest.write_api_calls(
        conn,
        [
            ingest.ApiCallRow(
                r.ts.to_pydatetime(), SERVICE, "/v1/compare", "POST", int(r.status), int(r.latency_ms), f"r{i}"
            )
            for i, r in enumerate(calls.itertuples())
        ],
        now=now,
    )
    client = await make_client()
    body = (await client.get("/metrics")).text
    slo_report = (await client.get(f"/api/slo/{SERVICE}")).json()
    return calls, body, slo_report


async def test_the_gauges_count_what_was_written_and_agree_with_the_api(scraped):
    calls, body, slo_report = scraped
    assert_clean_and_documented(body)  # promtool, and every slamon_ series in docs/operations.md
    tier = TIERS[slo_report["service"]["tier"]]
    newest = calls.ts.max()
    bad_of = {
        "error_rate": calls.status >= 400,
        "error_rate_5xx": calls.status >= 500,
        "error_rate_4xx": (calls.status >= 400) & (calls.status < 500),
        "latency_p95": calls.latency_ms >= tier.p95_ms,
    }
    allowed = {"error_rate": tier.error_rate, "error_rate_5xx": tier.error_rate_5xx, "error_rate_4xx": Decimal(5)}
    for window, span in (("5m", timedelta(minutes=5)), ("30m", timedelta(minutes=30))):
        in_window = calls.ts > newest - span
        for slo, bad in bad_of.items():
            events, bad_events = int(in_window.sum()), int((bad & in_window).sum())
            labels = {"service": SERVICE, "slo": slo, "window": window}
            assert gauge(body, "slamon_slo_events", **labels) == events, (slo, window)
            assert gauge(body, "slamon_slo_bad_events", **labels) == bad_events, (slo, window)
            assert gauge(body, "slamon_slo_sli_error_ratio", **labels) == pytest.approx(bad_events / events)
            if slo in allowed:
                budget_ratio = float(allowed[slo] / 100)
                assert gauge(body, "slamon_slo_burn_rate", **labels) == pytest.approx(
                    bad_events / events / budget_ratio
                )
    for entry in slo_report["slos"]:
        labels = {"service": SERVICE, "slo": entry["slo"]}
        assert gauge(body, "slamon_slo_error_budget_remaining", **labels) == pytest.approx(
            entry["errorBudget"]["remaining"]
        )
        period = {**labels, "window": "period"}
        assert gauge(body, "slamon_slo_events", **period) == entry["events"]["total"]
        assert gauge(body, "slamon_slo_bad_events", **period) == entry["events"]["bad"]
        if entry["met"] is not None:
            assert gauge(body, "slamon_slo_met", **labels) == (1 if entry["met"] else 0)
    first = datetime.now(timezone.utc).replace(day=1)
    days = ((first + timedelta(days=32)).replace(day=1) - first).days
    assert gauge(body, "slamon_slo_period_seconds", service=SERVICE, slo="availability") == days * 86400
    assert gauge(body, "slamon_slo_objective_ratio", service=SERVICE, slo="latency_p95") == 0.95
    assert gauge(body, "slamon_slo_info", service=SERVICE, slo="latency_p95", objective="95", unit="ms") == 1


def _series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


async def test_the_recording_rules_give_sloths_and_pyrras_series(scraped, tmp_path):
    """The scraped gauges as two API replicas' series; the rules' outputs as Sloth and Pyrra name them."""
    _, body, _ = scraped
    inputs = []
    for name, samples in families(body).items():
        for sample in samples:
            if sample.labels.get("service") == SERVICE:
                for instance in ("api-1:3001", "api-2:3001"):
                    labels = {**sample.labels, "instance": instance, "job": "slamon-api"}
                    inputs.append({"series": _series(name, labels), "values": f"{sample.value!r}x5"})

    def value(name: str, **labels: str) -> float:
        found = gauge(body, name, service=SERVICE, **labels)
        assert found is not None, (name, labels)
        return found

    slo, sloth = "error_rate_5xx", {"sloth_id": f"{SERVICE}-error_rate_5xx", "sloth_service": SERVICE}
    sloth = {**sloth, "sloth_slo": slo, "service": SERVICE, "slo": slo}
    pyrra = {"service": SERVICE, "slo": f"{SERVICE}-{slo}"}
    [objective] = [
        sample.labels["objective"]
        for sample in families(body)["slamon_slo_info"]
        if sample.labels["service"] == SERVICE and sample.labels["slo"] == slo
    ]
    assert objective == "99.95"  # the enterprise tier's 5xx rate under 0.05 %
    expected = [
        (
            "slo:sli_error:ratio_rate5m",
            {**sloth, "sloth_window": "5m"},
            value("slamon_slo_sli_error_ratio", slo=slo, window="5m"),
        ),
        ("slo:current_burn_rate:ratio", sloth, value("slamon_slo_burn_rate", slo=slo, window="5m")),
        ("slo:period_burn_rate:ratio", sloth, value("slamon_slo_burn_rate", slo=slo, window="period")),
        ("slo:period_error_budget_remaining:ratio", sloth, 1 - value("slamon_slo_burn_rate", slo=slo, window="period")),
        ("slo:objective:ratio", sloth, value("slamon_slo_objective_ratio", slo=slo)),
        ("slo:error_budget:ratio", sloth, value("slamon_slo_error_budget_ratio", slo=slo)),
        ("pyrra_objective", pyrra, value("slamon_slo_objective_ratio", slo=slo)),
        ("pyrra_window", pyrra, value("slamon_slo_period_seconds", slo=slo)),
        ("slo:time_period:days", sloth, value("slamon_slo_period_seconds", slo=slo) / 86400),
        ("pyrra_availability", pyrra, 1 - value("slamon_slo_sli_error_ratio", slo=slo, window="period")),
        ("pyrra_requests:rate5m", pyrra, value("slamon_slo_events", slo=slo, window="5m") / 300),
        ("pyrra_errors:rate5m", pyrra, value("slamon_slo_bad_events", slo=slo, window="5m") / 300),
    ]
    tests = [
        {
            "expr": f'{name}{{{"sloth_id" if name.startswith("slo:") else "slo"}="{SERVICE}-{slo}"}}',
            "eval_time": "2m",
            "exp_samples": [{"labels": _series(name, labels), "value": expected_value}],
        }
        for name, labels, expected_value in expected
    ]
    info = {**sloth, "objective": objective, "sloth_objective": objective}
    tests.append(
        {
            "expr": f'sloth_slo_info{{sloth_id="{SERVICE}-{slo}"}}',
            "eval_time": "2m",
            "exp_samples": [{"labels": _series("sloth_slo_info", info), "value": 1}],
        }
    )
    unit = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": tests}],
    }
    (tmp_path / "test.yml").write_text(json.dumps(unit))  # JSON is YAML
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make system-deps` installs Debian's prometheus package"
    done = subprocess.run([tool, "test", "rules", str(tmp_path / "test.yml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_and_the_dashboard_are_valid_and_name_real_series(tmp_path):
    tool = shutil.which("promtool")
    assert tool
    done = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    source = (ROOT / "app" / "metrics_slo.py").read_text()
    exported = set(re.findall(r'"(slamon_slo_[a-z_]+)"', source))
    dashboard = json.loads((ROOT / "docs" / "grafana" / "slo.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queries += [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    named = {name for q in queries for name in re.findall(r"\b(slamon_[a-z_]+)", q)}
    assert named and named <= exported, named - exported


async def test_a_stored_definition_has_the_same_gauges_as_its_status(conn, make_client):
    """A definition (app/slo/definitions) of the calls' P95 on one endpoint: its gauges count what
    was written (pandas) and equal GET /api/slo-definitions/{name}/status."""
    now = datetime.now(timezone.utc)
    calls = calls_written(now)
    await ingest.write_api_calls(
        conn,
        [
            ingest.ApiCallRow(
                r.ts.to_pydatetime(), SERVICE, "/v1/compare" if i % 2 else "/v1/other", "POST", int(r.status),
                int(r.latency_ms), f"d{i}",
            )
            for i, r in enumerate(calls.itertuples())
        ],
        now=now,
    )  # fmt: skip
    endpoint = calls.index % 2 == 1
    definition = Definition(
        name="compare-p95",
        display_name="Compare P95 under 800 ms",
        description="",
        services=(SERVICE,),
        sli=Sli("calls", events=Filter(endpoints=("/v1/compare",)), good=Filter(latency_below_ms=800),
                percentile=Decimal(95)),
        window=Window("rolling", days=7),
        target=Decimal(95),
    )  # fmt: skip
    await definition_store.put(conn, definition, "api")
    client = await make_client()
    body = (await client.get("/metrics")).text
    status = (await client.get("/api/slo-definitions/compare-p95/status")).json()
    [figures] = [s for s in status["services"] if s["serviceId"] == SERVICE]
    labels = {"service": SERVICE, "slo": "compare-p95"}
    newest = calls.ts.max()
    for window, span in (("5m", timedelta(minutes=5)), ("30m", timedelta(minutes=30))):
        in_window = endpoint & (calls.ts > newest - span)
        bad = in_window & (calls.latency_ms >= 800)
        assert gauge(body, "slamon_slo_events", **labels, window=window) == int(in_window.sum())
        assert gauge(body, "slamon_slo_bad_events", **labels, window=window) == int(bad.sum())
        assert gauge(body, "slamon_slo_burn_rate", **labels, window=window) == pytest.approx(
            bad.sum() / in_window.sum() / 0.05
        )
    period = {**labels, "window": "period"}
    assert gauge(body, "slamon_slo_events", **period) == int(endpoint.sum()) == figures["events"]["total"]
    assert gauge(body, "slamon_slo_bad_events", **period) == figures["events"]["bad"]
    assert gauge(body, "slamon_slo_error_budget_remaining", **labels, unit="calls") == pytest.approx(
        figures["errorBudget"]["remaining"]
    )
    assert gauge(body, "slamon_slo_met", **labels) == (1 if figures["met"] else 0)
    assert gauge(body, "slamon_slo_period_seconds", **labels) == 7 * 86400
    assert gauge(body, "slamon_slo_info", **labels, target="800", unit="ms", objective="95") == 1
