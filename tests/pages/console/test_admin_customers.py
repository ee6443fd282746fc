"""/admin/customers in a real browser (Debian Chromium): an admin adds a customer through POST
/api/customers (the API's 422 shown next to the field), sees it listed with its contract, and removes
it through DELETE /api/customers/{id}; a reporter gets the forbidden page; axe-core finds no serious
or critical violation at 375 and 1280 px."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.pages.conftest import assert_accessible, screenshots
from tests.pages.console.conftest import ensure_user
from tests.pages.console.test_browser import KO, WAIT_MS, sign_in

TABLES = "customer_target_overrides, customer_services, customers, customer_statements"


@pytest.fixture
async def console(live_server, console_db):
    await console_db.execute(f"TRUNCATE {TABLES}")
    async with live_server("console") as base_url:
        yield base_url
    await console_db.execute(f"TRUNCATE {TABLES}")


async def test_an_admin_adds_a_customer_and_removes_it(console, console_db, new_page):
    await ensure_user(console_db, "ada", "admin")
    page = await new_page(**KO)
    await sign_in(page, console, "ada", "/admin/customers")
    form = page.locator("form[data-url='/api/customers'][data-method='POST']")
    await form.get_by_label("ID", exact=True).fill("acme")
    await form.get_by_label("이름").fill("ACME Corp.")
    await form.get_by_label("명세서 수신자 (이메일)").fill("billing@acme.example, ops@acme.example")
    await form.get_by_label("SLA 등급").select_option("enterprise")
    await form.get_by_label("통화").fill("JPY")
    await form.get_by_label("월 요금").fill("1000.5")  # yen have no decimals
    await form.get_by_label("계약 시작일").fill("2025-01-01")
    await form.get_by_label("Face Liveness").check()
    await form.get_by_role("button", name="고객 추가").click()
    await expect(page.locator('[data-error-for="nc-monthly_fee"]')).to_contain_text("JPY", timeout=WAIT_MS)
    await expect(form.get_by_label("월 요금")).to_have_attribute("aria-invalid", "true")
    page.problems.allow("status of 422")
    for width in (375, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        await assert_accessible(page)

    await form.get_by_label("월 요금").fill("150000")
    async with page.expect_navigation(timeout=WAIT_MS):
        await form.get_by_role("button", name="고객 추가").click()
    added = page.locator('[data-customer="acme"]')
    await expect(added.locator("[data-fee]")).to_have_text("150000 JPY")
    row = await console_db.fetchrow("SELECT contacts, tier, monthly_fee, currency, managed_by FROM customers")
    assert dict(row) == {
        "contacts": ["billing@acme.example", "ops@acme.example"],
        "tier": "enterprise",
        "monthly_fee": 150000,
        "currency": "JPY",
        "managed_by": "api",
    }
    assert await console_db.fetchval("SELECT array_agg(service_id) FROM customer_services") == ["face-liveness"]
    for width in (375, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        await assert_accessible(page)
    await screenshots(page, "console-admin-customers-added")

    page.once("dialog", lambda dialog: dialog.accept())
    async with page.expect_navigation(timeout=WAIT_MS):
        await added.get_by_role("button", name="고객 삭제").click()
    await expect(page.locator('[data-customer="acme"]')).to_have_count(0)
    assert await console_db.fetchval("SELECT count(*) FROM customers") == 0


async def test_a_reporter_may_not_manage_customers(console, console_db, new_page):
    await ensure_user(console_db, "rita", "reporter")
    page = await new_page(**KO)
    await sign_in(page, console, "rita", "/")
    await expect(page.get_by_role("link", name="고객")).to_have_count(0)
    response = await page.goto(f"{console}/admin/customers")
    page.problems.allow("status of 403")
    assert response is not None and response.status == 403
