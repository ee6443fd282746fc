"""The console's /slo page in a real browser (Debian Chromium): below the tier SLOs, the stored SLO
definitions covering the chosen service with their forecast (app/slo/definitions/forecast.py) and
their open forecast alert; a definition of another service is not shown; axe finds nothing blocking."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from playwright.async_api import expect

from app import deps
from app.slo.definitions import store
from app.slo.definitions.model import Definition, Filter, Sli, Window
from tests.pages.conftest import assert_accessible
from tests.pages.console.conftest import ensure_user
from tests.pages.console.test_browser import WAIT_MS, sign_in
from tests.workers.test_definition_forecast import DEFINITION, NAME, NOW, SID, write_data
from workers import forecast

OTHER = Definition(
    "recognition-month",
    "ID Recognition, month",
    "",
    ("id-recognition",),
    Sli("checks", good=Filter(ok=True)),
    Window("calendar", unit="month"),
    Decimal("99.5"),
)


async def test_the_definitions_covering_the_service_show_their_forecast_and_alert(
    live_server, console_db, new_page, pool, settings
):
    await write_data(console_db)  # face-28d: 36 of 40.32 minutes spent, runs out in 20.16 h
    await store.put(console_db, OTHER, "api")
    utc = settings.model_copy(update={"timezone": "UTC"})
    changes = await forecast.sweep_forecasts({"settings": utc, "pool": pool}, NOW)
    assert f"opened:{SID}:definition:{NAME}" in changes
    alert_id = await console_db.fetchval("SELECT id FROM slo_definition_forecast_alerts")
    await ensure_user(console_db, "vera", "viewer")

    def pin_clock(app) -> None:
        app.dependency_overrides[deps.clock] = lambda: NOW

    async with live_server("console", setup=pin_clock, timezone="UTC") as base_url:
        page = await new_page(locale="en-US")
        await sign_in(page, base_url, "vera", f"/slo?service={SID}")
        await page.goto(f"{base_url}/slo?service={SID}&lang=en")
        await expect(page.get_by_role("heading", name="SLO definitions covering this service")).to_be_visible(
            timeout=WAIT_MS
        )
        rows = page.locator("tr[data-definition]")
        await expect(rows).to_have_count(1)  # recognition-month covers another service
        row = page.locator(f'tr[data-definition="{NAME}"]')
        await expect(row.get_by_role("rowheader")).to_contain_text(DEFINITION.display_name)
        await expect(row).to_contain_text("28d rolling")
        await expect(row).to_contain_text("4.32 / 40.32 min")
        runs_out = (NOW + timedelta(seconds=72_576)).isoformat().replace("+00:00", "Z")
        await expect(row.locator('td[data-runs-out="week"] time')).to_have_attribute("datetime", runs_out)
        await expect(row.locator(f'[data-definition-alert="{alert_id}"]')).to_have_text(re.compile("at risk"))
        await assert_accessible(page)


async def test_a_service_no_definition_covers_says_so(live_server, console_db, new_page):
    await store.put(console_db, DEFINITION, "api")  # face-compare only
    await ensure_user(console_db, "vera", "viewer")

    def pin_clock(app) -> None:
        app.dependency_overrides[deps.clock] = lambda: NOW

    async with live_server("console", setup=pin_clock, timezone="UTC") as base_url:
        page = await new_page(locale="en-US")
        await sign_in(page, base_url, "vera", "/slo?service=id-recognition")
        await page.goto(f"{base_url}/slo?service=id-recognition&lang=en")
        await expect(page.get_by_text("No stored SLO definition covers this service.")).to_be_visible(timeout=WAIT_MS)
        await expect(page.locator("tr[data-definition]")).to_have_count(0)
