"""The SLA document's SLO-001..006 as definitions (app/slo/definitions/examples.py): valid, stored by
the demo seed (which writes calls on the document's agent endpoints), and every one of them has
events to judge on the demo's services; the worker evaluates them all."""

from __future__ import annotations

from datetime import datetime, timezone

from app.seed import seed
from app.slo.definitions import examples, service, store
from app.slo.definitions.tiers import PREFIX

NOW = datetime(2025, 8, 20, 12, 0, 30, tzinfo=timezone.utc)


def test_the_examples_are_valid_and_cover_the_document():
    found = examples.examples()
    assert {d.labels["document"] for d in found} == {f"SLO-00{i}" for i in range(1, 7)}
    assert not any(d.name.startswith(PREFIX) for d in found)
    weekly = next(d for d in found if d.name == "slo-002-weekly-availability")
    assert [(a.severity, a.value, a.minutes) for a in weekly.alerts] == [("WARNING", 98, 60), ("CRITICAL", 97, 30)]
    execute = next(d for d in found if d.name == "slo-003-execute-agent")
    assert (execute.sli.events.endpoints, execute.sli.good.latency_below_ms) == (("/api/v1/agents/{id}/execute",), 1000)
    assert execute.alerts[0].buckets == 3  # 3 consecutive 5-minute measurements


async def test_the_demo_seed_installs_them_and_each_has_data(defs_db, worker_ctx):
    from workers.slo_definitions import sweep

    conn = defs_db
    summary = await seed(conn, days=2, now=NOW)
    assert summary.endswith(f"{len(examples.examples())} example SLO definitions")
    assert await examples.install(conn) == []  # once
    body = await service.list_public(conn)
    stored = [d for d in body["definitions"] if not d["readOnly"]]
    assert [d["name"] for d in stored] == sorted(d.name for d in examples.examples())
    assert {d["source"] for d in stored} == {"example"}
    for definition in examples.examples():
        status = await service.status(conn, definition, NOW, worker_ctx["settings"].zone)
        assert len(status["services"]) == 5, definition.name
        assert all(s["events"]["total"] > 0 for s in status["services"]), definition.name
    result = await sweep(worker_ctx, NOW)
    assert set(result) == {d.name for d in examples.examples()} and "error" not in result.values()
    assert await store.delete(conn, "slo-001-availability")
    assert await examples.install(conn) == []  # a deleted example stays deleted
