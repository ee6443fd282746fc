"""/admin/slos in a real browser (Debian Chromium): an admin applies OpenSLO YAML through POST
/api/slo-definitions:apply (the problems shown at the editor, naming document, SLO and field),
checks it first (dry run), edits one definition's YAML and deletes another; a reporter gets the
forbidden page; axe-core finds no serious or critical violation at 375 and 1280 px."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from app.slo.definitions import openslo
from tests.pages.conftest import assert_accessible, screenshots
from tests.pages.console.conftest import ensure_user
from tests.pages.console.test_browser import KO, WAIT_MS, sign_in

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "docs" / "slos" / "sla-document.yaml").read_text()


@pytest.fixture
async def console(live_server, console_db):
    await console_db.execute("TRUNCATE slo_definitions CASCADE")
    async with live_server("console") as base_url:
        yield base_url
    await console_db.execute("TRUNCATE slo_definitions CASCADE")


async def test_an_admin_applies_edits_and_deletes_slo_definitions(console, console_db, new_page):
    await ensure_user(console_db, "ada", "admin")
    page = await new_page(**KO)
    await sign_in(page, console, "ada", "/admin/slos")
    await expect(page.get_by_text("아직 SLO 정의가 없습니다.")).to_be_visible()
    editor = page.locator("#new-yaml")
    await expect(editor).to_have_value(re.compile("kind: SLO"))

    # a refused field: nothing stored, the problem shown at the editor
    await editor.fill(EXAMPLE.replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices", 1))
    await page.get_by_role("button", name="적용", exact=True).click()
    error = page.locator('[data-error-for="new-yaml"]')
    await expect(error).to_contain_text("request#1 (slo-001-availability) spec.budgetingMethod", timeout=WAIT_MS)
    await expect(editor).to_have_attribute("aria-invalid", "true")
    page.problems.allow("status of 422")
    assert await openslo.load(console_db) == []
    for width in (375, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        await assert_accessible(page)

    # check first: a dry run stores nothing
    await editor.fill(EXAMPLE)
    await page.get_by_role("button", name="검사").click()
    await expect(page.locator("[data-form-message]").first).to_contain_text(
        "slo-001-availability: created", timeout=WAIT_MS
    )
    assert await openslo.load(console_db) == []

    async with page.expect_navigation(timeout=WAIT_MS):
        await page.get_by_role("button", name="적용", exact=True).click()
    await expect(page.locator("[data-slo]")).to_have_count(12)
    first = page.locator('[data-slo="slo-001-availability"]')
    await expect(first.locator("[data-window]")).to_have_text("달력 월")
    await expect(first.locator("[data-target]")).to_have_text("≥ 99.9 %")
    await expect(first.locator("[data-services]")).to_have_text("모든 활성 서비스")  # the examples cover every service
    await expect(first.locator("[data-alerts] li")).to_have_text(
        ["CRITICAL: 소진율 ≥ 14.4 (60분 및 5분)", "WARNING: 소진율 ≥ 6 (360분 및 30분)"]
    )
    latency = page.locator('[data-slo="slo-003-list-agents"]')
    await expect(latency.locator("[data-target]")).to_have_text("P95 < 100 ms · ≥ 95 %")
    await expect(latency.locator("[data-alerts] li")).to_have_text(["WARNING: P95 ms > 100, 15분 지속"])
    for width in (375, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        await assert_accessible(page)
    await screenshots(page, "console-admin-slos")

    # edit one definition's YAML
    server = page.locator('[data-slo="slo-005-5xx"]')
    await server.get_by_text("YAML로 편집").click()
    area = server.locator("textarea")
    text = await area.input_value()
    await area.fill(text.replace("target: 0.999", "target: 0.998"))
    async with page.expect_navigation(timeout=WAIT_MS):
        await server.get_by_role("button", name="변경 적용").click()
    await expect(page.locator('[data-slo="slo-005-5xx"] [data-target]')).to_have_text("> 99.8 %")
    (stored,) = await openslo.load(console_db, ["slo-005-5xx"])
    assert str(stored.target) == "99.8"

    page.once("dialog", lambda dialog: dialog.accept())
    async with page.expect_navigation(timeout=WAIT_MS):
        await page.locator('[data-slo="slo-004-execute-p99"]').get_by_role("button", name="정의 삭제").click()
    await expect(page.locator("[data-slo]")).to_have_count(11)
    assert "slo-004-execute-p99" not in {d.name for d in await openslo.load(console_db)}


async def test_a_reporter_may_not_manage_slo_definitions(console, console_db, new_page):
    await ensure_user(console_db, "rita", "reporter")
    page = await new_page(**KO)
    await sign_in(page, console, "rita", "/")
    await expect(page.get_by_role("link", name="SLO 정의", exact=True)).to_have_count(0)
    response = await page.goto(f"{console}/admin/slos")
    page.problems.allow("status of 403")
    assert response is not None and response.status == 403
