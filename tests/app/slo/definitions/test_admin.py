"""The admin API of SLO definitions (app/slo/definitions/admin.py): 401 without a token, 403 below
admin, 422 naming the field, 409 for the tier definitions, and the writes themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from app.slo.definitions import openslo
from app.slo.definitions.model import Definition, Filter, Sli, Window

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "docs" / "slos" / "sla-document.yaml"
YAML = {"Content-Type": "application/yaml"}
BODY = {
    "displayName": "Checkout availability",
    "services": ["id-recognition"],
    "sli": {"source": "checks", "good": {"ok": True}},
    "window": {"kind": "rolling", "days": 28},
    "target": "99.9",
    "alerts": [
        {
            "kind": "burn_rate",
            "name": "fast-burn",
            "severity": "CRITICAL",
            "longMinutes": 60,
            "shortMinutes": 5,
            "factor": "14.4",
        }
    ],
}


@pytest.fixture
async def admin(staff):
    await staff.conn.execute("TRUNCATE slo_definitions CASCADE")
    yield staff
    await staff.conn.execute("TRUNCATE slo_definitions CASCADE")


async def test_put_creates_updates_and_reads_back(admin):
    headers = await admin.headers("admin")
    r = await admin.client.put("/api/slo-definitions/checkout", json=BODY, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "created"
    assert r.json()["definition"]["name"] == "checkout" and r.json()["definition"]["target"] == "99.9"
    (stored,) = await openslo.load(admin.conn)
    assert stored.sli == Sli(source="checks", good=Filter(ok=True))
    assert stored.window == Window("rolling", days=28)
    r = await admin.client.put("/api/slo-definitions/checkout", json=BODY, headers=headers)
    assert r.json()["outcome"] == "unchanged"
    r = await admin.client.put("/api/slo-definitions/checkout", json={**BODY, "target": 99.5}, headers=headers)
    assert r.json()["outcome"] == "updated"
    audit = await admin.conn.fetch(
        "SELECT action, actor_name, details->>'created' FROM audit_log WHERE target_type = 'slo_definition' ORDER BY id"
    )
    assert [tuple(a) for a in audit] == [
        ("slo_definition.put", "admin", "true"),
        ("slo_definition.put", "admin", "false"),
    ]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"target": "100"}, "target"),
        ({"target": "a lot"}, "target"),
        ({"window": {"kind": "rolling", "days": 120}}, "window.days"),
        ({"sli": {"source": "checks", "good": {"ok": True}, "bad": {"ok": False}}}, "sli"),
        ({"sli": {"source": "checks", "good": {"statuses": ["5xx"]}}}, "sli.good"),
        ({"sli": {"source": "calls", "good": {"statuses": ["6xx"]}}}, "sli.good.statuses"),
        ({"sli": {"source": "calls", "good": {"latencyBelowMs": 0}}}, "sli.good.latencyBelowMs"),
        ({"sli": {"source": "calls", "good": {}, "percentile": "95"}}, "sli.percentile"),
        ({"services": ["ghost"]}, "services.0"),
        ({"services": ["Not valid"]}, "services.0"),
        ({"name": "other"}, "name"),
        ({"foo": 1}, "foo"),
        ({"alerts": [{**BODY["alerts"][0], "shortMinutes": 90}]}, "alerts[0]"),
        ({"alerts": [{**BODY["alerts"][0], "kind": "anomaly"}]}, "alerts.0"),
    ],
)
async def test_put_refuses_a_wrong_definition_naming_the_field(admin, change, field):
    r = await admin.client.put(
        "/api/slo-definitions/checkout", json={**BODY, **change}, headers=await admin.headers("admin")
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"
    assert any(d["field"].startswith(field) for d in r.json()["details"]), r.json()
    assert await openslo.load(admin.conn) == []


async def test_writes_need_a_token_and_the_admin_role(admin):
    yaml_text = EXAMPLE.read_text()
    for role, expected in ((None, 401), ("viewer", 403), ("reporter", 403)):
        headers = await admin.headers(role) if role else {}
        put = await admin.client.put("/api/slo-definitions/checkout", json=BODY, headers=headers)
        delete = await admin.client.delete("/api/slo-definitions/checkout", headers=headers)
        apply = await admin.client.post("/api/slo-definitions:apply", content=yaml_text, headers={**headers, **YAML})
        assert [put.status_code, delete.status_code, apply.status_code] == [expected] * 3
    assert (await admin.client.get("/api/slo-definitions.yaml")).status_code == 401
    assert await openslo.load(admin.conn) == []


async def test_apply_yaml_dry_run_then_for_real_then_export(admin):
    headers = {**await admin.headers("admin"), **YAML}
    text = EXAMPLE.read_text()
    r = await admin.client.post("/api/slo-definitions:apply?dryRun=true", content=text, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["dryRun"] is True and {d["outcome"] for d in r.json()["definitions"]} == {"created"}
    assert await openslo.load(admin.conn) == []
    r = await admin.client.post("/api/slo-definitions:apply", content=text, headers=headers)
    assert len(r.json()["definitions"]) == 12
    exported = await admin.client.get("/api/slo-definitions.yaml", headers=await admin.headers("viewer"))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/yaml")
    assert openslo.parse([("export", exported.text)], "UTC") == await openslo.load(admin.conn)
    one = await admin.client.get(
        "/api/slo-definitions.yaml?name=slo-004-execute-p99", headers=await admin.headers("viewer")
    )
    assert [d.name for d in openslo.parse([("export", one.text)], "UTC")] == ["slo-004-execute-p99"]
    missing = await admin.client.get("/api/slo-definitions.yaml?name=nope", headers=await admin.headers("viewer"))
    assert missing.status_code == 404
    # prune: only SLO-001 is kept
    first = yaml.safe_dump(next(yaml.safe_load_all(text)))
    r = await admin.client.post("/api/slo-definitions:apply?prune=true", content=first, headers=headers)
    outcomes = {d["name"]: d["outcome"] for d in r.json()["definitions"]}
    assert outcomes.pop("slo-001-availability") == "unchanged"
    assert set(outcomes.values()) == {"deleted"} and len(outcomes) == 11


async def test_apply_answers_every_problem_and_stores_nothing(admin):
    headers = {**await admin.headers("admin"), **YAML}
    docs = list(yaml.safe_load_all(EXAMPLE.read_text()))
    docs[0]["spec"]["budgetingMethod"] = "Timeslices"
    docs[1]["spec"]["indicator"]["spec"]["ratioMetric"]["good"]["metricSource"]["type"] = "prometheus"
    r = await admin.client.post("/api/slo-definitions:apply", content=yaml.safe_dump_all(docs), headers=headers)
    assert r.status_code == 422, r.text
    details = r.json()["details"]
    assert [(d["document"], d["slo"], d["field"]) for d in details] == [
        ("request#1", "slo-001-availability", "spec.budgetingMethod"),
        ("request#2", "slo-002-weekly-availability", "spec.indicator.spec.ratioMetric.good.metricSource.type"),
    ]
    assert r.json()["message"] == "2 problems in the OpenSLO document: nothing was applied"
    assert await openslo.load(admin.conn) == []
    for content, content_type, status in (
        ("not: [yaml", "application/yaml", 422),
        (b"\xff\xfe", "application/yaml", 422),
        ("apiVersion: openslo/v1", "text/plain", 415),
        ("{}", "application/json", 415),
    ):
        r = await admin.client.post(
            "/api/slo-definitions:apply",
            content=content,
            headers={**headers, "Content-Type": content_type},
        )
        assert r.status_code == status, (content, r.text)


async def test_delete_and_the_tier_definitions(admin, monkeypatch):
    headers = await admin.headers("admin")
    await admin.client.put("/api/slo-definitions/checkout", json=BODY, headers=headers)
    r = await admin.client.delete("/api/slo-definitions/checkout", headers=headers)
    assert r.status_code == 200 and r.json()["success"] is True
    assert await openslo.load(admin.conn) == []
    assert (await admin.client.delete("/api/slo-definitions/checkout", headers=headers)).status_code == 404
    r = await admin.client.put("/api/slo-definitions/checkout", json={**BODY, "tier": "enterprise"}, headers=headers)
    assert r.status_code == 409

    # The engine provides the tier definitions (tier_definitions()); one stands in for them here.
    tier = Definition.from_json({**BODY, "name": "enterprise-availability", "tier": "enterprise"})
    monkeypatch.setattr(openslo, "tier_definitions", lambda: (tier,))
    for r in (
        await admin.client.delete("/api/slo-definitions/enterprise-availability", headers=headers),
        await admin.client.put("/api/slo-definitions/enterprise-availability", json=BODY, headers=headers),
    ):
        assert r.status_code == 409 and "read-only" in r.json()["message"], r.text
    exported = await admin.client.get("/api/slo-definitions.yaml?withTiers=true", headers=headers)
    assert openslo.parse([("export", exported.text)], "UTC") == [tier]


async def test_text_postgresql_cannot_store_is_refused_not_a_server_error(admin):
    headers = await admin.headers("admin")
    for body in (
        {**BODY, "displayName": "a\u0000b"},
        {**BODY, "description": "\ud800"},
        {**BODY, "labels": {"\ud800": "x"}},
    ):
        r = await admin.client.put(
            "/api/slo-definitions/checkout",
            content=json.dumps(body),  # ASCII, with the escapes as a client would send them
            headers={**headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text
    docs = list(yaml.safe_load_all(EXAMPLE.read_text()))[:1]
    text = yaml.safe_dump_all(docs).replace("SLO-001 platform availability", '"\\ud800 \\0"')
    huge = yaml.safe_dump_all(docs).replace("threshold: 14.4", "threshold: 1.0e+999999")
    for content in (text, huge):
        r = await admin.client.post("/api/slo-definitions:apply", content=content, headers={**headers, **YAML})
        assert r.status_code == 422, r.text
    names = await admin.client.get("/api/slo-definitions.yaml?name=%00", headers=headers)
    assert names.status_code == 404
    assert await openslo.load(admin.conn) == []


async def test_what_put_stores_exports_and_applies_back_unchanged(admin):
    headers = await admin.headers("admin")
    body = {
        **BODY,
        "description": "d" * 1050,
        "displayName": "가" * 255,
        "labels": {"k" * 63: "v" * 255},
        "services": [],
        "sli": {
            "source": "calls",
            "events": {"endpoints": ["/api/v1/agents/{id}/execute"], "methods": ["POST"]},
            "good": {"latencyBelowMs": 1000},
            "percentile": "99.5",
        },
        "window": {"kind": "calendar", "unit": "quarter"},
        "op": "gt",
        "alerts": [
            *BODY["alerts"],
            {
                "kind": "threshold",
                "name": "slow",
                "severity": "WARNING",
                "measure": "percentile_ms",
                "compare": "gt",
                "value": "1000",
                "minutes": 15,
            },
        ],
    }
    assert (await admin.client.put("/api/slo-definitions/checkout", json=body, headers=headers)).status_code == 200
    exported = await admin.client.get("/api/slo-definitions.yaml", headers=headers)
    r = await admin.client.post("/api/slo-definitions:apply", content=exported.text, headers={**headers, **YAML})
    assert r.status_code == 200, r.text
    assert r.json()["definitions"] == [{"name": "checkout", "outcome": "unchanged"}]
