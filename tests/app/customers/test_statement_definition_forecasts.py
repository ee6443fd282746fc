"""The running statement's forecast section carries the stored SLO definitions covering the
customer's services after their tier SLOs, with the figures of GET /api/slo-definitions/{name}/forecast
at the same instant; a definition of no covered service is not there."""

from __future__ import annotations

from decimal import Decimal

from app.slo.definitions import store
from app.slo.definitions.model import Definition, Filter, Sli, Window
from tests.app.customers.test_statements import closed  # noqa: F401

COVERING = Definition(
    "recognition-week",
    "ID Recognition, weekly",
    "",
    ("id-recognition",),
    Sli("checks", good=Filter(ok=True)),
    Window("rolling", days=7),
    Decimal("99.5"),
)
ELSEWHERE = Definition(
    "elsewhere-month",
    "Not a covered service",
    "",
    ("no-such-service",),
    Sli("checks", good=Filter(ok=True)),
    Window("calendar", unit="month"),
    Decimal("99.5"),
)


async def test_the_running_statement_forecasts_the_definitions_covering_its_services(closed):  # noqa: F811
    staff = closed
    await store.put(staff.conn, COVERING, "api")
    await store.put(staff.conn, ELSEWHERE, "api")
    admin = await staff.headers("admin")
    doc = (await staff.client.get("/api/customers/acme/statements/2025-04.json", headers=admin)).json()
    by_service = {s["id"]: s["slos"] for s in doc["forecast"]["services"]}
    assert "id-recognition" in by_service
    mine = [s for s in by_service["id-recognition"] if s.get("definition") == "recognition-week"]
    assert len(mine) == 1 and len(by_service["id-recognition"]) == 8  # the tier's 7, then the definition
    (row,) = mine
    assert row["name"] == "ID Recognition, weekly (7d rolling)" and row["window"] == "7d rolling"
    api = (await staff.client.get("/api/slo-definitions/recognition-week/forecast")).json()
    (theirs,) = [s for s in api["services"] if s["serviceId"] == "id-recognition"]
    assert (row["budget"], row["consumed"], row["remaining"], row["missProbability"]) == (
        theirs["budget"],
        theirs["consumed"],
        theirs["remaining"],
        theirs["missProbability"],
    )
    assert row["exhaustsAtRecentBurn"] == theirs["recentBurn"]["exhaustsAt"]
    assert row["missAt"] == api["window"]["forecastEnd"]
    for slos in by_service.values():
        assert not [s for s in slos if s.get("definition") == "elsewhere-month"]
    page = (await staff.client.get("/api/customers/acme/statements/2025-04.html?lang=en", headers=admin)).text
    assert "ID Recognition, weekly (7d rolling)" in page
