"""The tier SLOs as definitions (app/slo/definitions/tiers.py) through the definitions engine give
exactly the figures of the tier engine's GET /api/slo/{id} (the fixture of tests/app/slo/test_api.py:
a month cut in Asia/Seoul, two regions some days, a maintenance window with failures and calls inside,
burning lately): current, met, events, error budget and burn rates of every SLO. (The availability's
month counts come from the same daily rollups as the tier report's, engine.availability_days; its
burn rates and every call SLO are the engine's own, and test_engine.py checks both paths against
pandas.)"""

from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from app.sla.tiers import TIERS
from app.slo.definitions import engine
from app.slo.definitions.tiers import tier_definitions
from tests.app.slo.test_api import NOW, SID, ZONE, august  # noqa: F401

NUMBER = (int, float)


def _json(value):
    """As the API writes a figure (app.contract.Number)."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if exponent >= 0 else float(value)
    return value


def test_every_tier_has_its_seven_definitions_named_after_the_tier():
    names = [d.name for d in tier_definitions()]
    assert len(names) == len(set(names)) == 7 * len(TIERS)
    assert "tier-enterprise-plus-latency-p95" in names and "tier-developer-error-rate-4xx" in names
    availability = next(d for d in tier_definitions() if d.name == "tier-professional-availability")
    assert (availability.target, availability.op, availability.window.unit) == (Decimal("99.9"), "gte", "month")
    assert [a.name for a in availability.alerts] == ["burn-rate-fast", "burn-rate-slow", "warning", "critical"]
    five = next(d for d in tier_definitions() if d.name == "tier-professional-error-rate-5xx")
    assert (five.target, five.op, five.sli.bad.statuses) == (Decimal("99.9"), "gt", ("5xx",))


async def test_the_engine_gives_the_tier_report_figures(august, conn, make_client):  # noqa: F811
    client = await make_client(now=NOW, timezone=ZONE)
    body = (await client.get(f"/api/slo/{SID}")).json()
    report = {s["slo"]: s for s in body["slos"]}
    definitions = [d for d in tier_definitions() if d.tier == "enterprise"]
    for definition in definitions:
        window, figures = await engine.figures(conn, definition, [SID], NOW, ZoneInfo(ZONE))
        status = engine.assess(definition, window, figures[SID])
        tier = report[definition.labels["slo"]]
        assert status["events"]["total"] == tier["events"]["total"], definition.name
        assert status["events"]["bad"] == tier["events"]["bad"], definition.name
        assert status["met"] is tier["met"], definition.name
        assert {k: _json(v) for k, v in status["errorBudget"].items()} == tier["errorBudget"], definition.name
        shown = {k: _json(status["burnRates"][k]) for k in ("5m", "30m", "1h", "6h")}
        assert shown == tier["burnRates"], definition.name
        if definition.sli.percentile is not None:
            assert status["percentileMs"] == tier["current"], definition.name
        elif definition.sli.source == "checks":
            assert _json(status["sli"].quantize(Decimal("0.01"), rounding="ROUND_DOWN")) == tier["current"]
        else:
            bad = Decimal(status["events"]["bad"]) * 100 / status["events"]["total"]
            assert _json(bad.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)) == tier["current"]
    assert report["availability"]["burnRates"]["6h"] > 1 and report["error_rate_4xx"]["events"]["bad"] > 0
    assert window.label == "2025-08" and window.minutes == 31 * 1440
