"""/admin/services in a real browser (Debian Chromium): an admin adds a service through POST
/api/services (the API's 422 and 409 shown next to the field), sees who owns each service, and
archives one the console added through DELETE /api/services/{id}; axe-core finds no serious or
critical violation at 375 and 1280 px, with the errors shown too."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.app.services.conftest import restore_catalog
from tests.pages.conftest import assert_accessible, screenshots
from tests.pages.console.conftest import ensure_user
from tests.pages.console.test_browser import KO, WAIT_MS, sign_in


@pytest.fixture
async def console(live_server, console_db):
    async with live_server("console") as base_url:
        yield base_url
    await restore_catalog(console_db)  # the catalog outlives a test


async def accessible_at_both_widths(page) -> None:
    for width in (375, 1280):  # ends at the width the test started with
        await page.set_viewport_size({"width": width, "height": 900})
        await assert_accessible(page)


async def test_an_admin_adds_a_service_and_archives_it(console, console_db, new_page):
    await ensure_user(console_db, "ada", "admin")
    page = await new_page(**KO)
    await sign_in(page, console, "ada", "/admin/services")
    form = page.locator("form[data-url='/api/services'][data-method='POST']")
    # the file's services: owned by services.toml, nothing to archive here
    file_service = page.locator('[data-service="face-compare"]')
    await expect(file_service.locator(".badge")).to_have_text("services.toml")
    await expect(file_service.get_by_role("button", name="서비스 보관")).to_have_count(0)

    await form.get_by_label("ID", exact=True).fill("KYC gateway")
    await form.get_by_label("이름").fill("KYC Gateway")
    await form.get_by_role("button", name="서비스 추가").click()
    await expect(page.locator('[data-error-for="ns-id"]')).to_be_visible(timeout=WAIT_MS)
    await expect(form.get_by_label("ID", exact=True)).to_have_attribute("aria-invalid", "true")
    await accessible_at_both_widths(page)
    await form.get_by_label("ID", exact=True).fill("face-compare")  # taken by the file's service
    await form.get_by_role("button", name="서비스 추가").click()
    await expect(page.locator('[data-error-for="ns-id"]')).to_contain_text("services.toml", timeout=WAIT_MS)
    await form.get_by_label("ID", exact=True).fill("kyc-gateway")
    await form.get_by_label("점검 대상 URL").fill("http://127.0.0.1:9/health")
    await form.get_by_role("button", name="서비스 추가").click()
    await expect(page.locator('[data-error-for="ns-url"]')).to_contain_text("allow_private", timeout=WAIT_MS)
    page.problems.allow("status of 422")
    page.problems.allow("status of 409")

    await form.get_by_label("루프백·사설 주소 허용").check()
    await form.get_by_label("SLA 등급 (SLO)").select_option("enterprise")
    async with page.expect_navigation(timeout=WAIT_MS):  # the page reloads with the new service
        await form.get_by_role("button", name="서비스 추가").click()
    added = page.locator('[data-service="kyc-gateway"]')
    await expect(added.locator(".badge")).to_have_text("여기서 추가")
    row = await console_db.fetchrow(
        "SELECT managed_by, tier, allow_private, endpoint_url, is_active FROM services WHERE id = 'kyc-gateway'"
    )
    assert dict(row) == {
        "managed_by": "api",
        "tier": "enterprise",
        "allow_private": True,
        "endpoint_url": "http://127.0.0.1:9/health",
        "is_active": True,
    }
    await accessible_at_both_widths(page)
    await screenshots(page, "console-admin-services-added")

    page.once("dialog", lambda dialog: dialog.accept())
    async with page.expect_navigation(timeout=WAIT_MS):
        await added.get_by_role("button", name="서비스 보관").click()
    await expect(page.locator('[data-service="kyc-gateway"]')).to_have_count(0)
    assert await console_db.fetchval("SELECT is_active FROM services WHERE id = 'kyc-gateway'") is False
    assert (
        await console_db.fetchval(
            "SELECT action FROM audit_log WHERE target_id = 'kyc-gateway' ORDER BY id DESC LIMIT 1"
        )
        == "service.archive"
    )


async def test_the_page_reads_in_english_and_names_fields_in_the_error_summary(console, console_db, new_page):
    await ensure_user(console_db, "ada", "admin")
    page = await new_page(locale="en-US")
    await sign_in(page, console, "ada", "/admin/services?lang=en")
    form = page.locator("form[data-url='/api/services'][data-method='POST']")
    await form.get_by_label("Id", exact=True).fill("batch-jobs")
    await form.get_by_label(re.compile("^Name")).fill("Batch jobs")
    await form.get_by_label("Check", exact=True).select_option("tcp")
    await form.get_by_label("Target URL").fill("https://batch.example.com/")
    await form.get_by_role("button", name="Add service").click()
    summary = page.locator("section [data-form-errors]")
    await expect(summary).to_contain_text(
        "Target URL: Value error, a tcp service needs tcp://host:port", timeout=WAIT_MS
    )
    page.problems.allow("status of 422")
    await accessible_at_both_widths(page)
