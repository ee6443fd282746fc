"""/oncall in a real browser (Debian Chromium): who is on call now in a schedule; an admin adds an
override through POST /api/oncall/schedules/{id}/overrides (the API's 422 shown next to the field),
sees it take over "on call now", and removes it; a viewer sees the page without the forms or the feed
URL; axe-core finds no serious or critical violation at 375 and 1280 px."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from app.oncall import service as oncall
from app.oncall.models import ScheduleCreate
from tests.pages.conftest import assert_accessible
from tests.pages.console.conftest import ensure_user
from tests.pages.console.test_browser import KO, WAIT_MS, sign_in


@pytest.fixture
async def console(live_server, console_db):
    await console_db.execute("TRUNCATE oncall_schedules CASCADE")
    for name in ("ana", "ben", "dee"):
        await ensure_user(console_db, name, "reporter")
    today = datetime.now(UTC).date()
    schedule = ScheduleCreate(
        id="primary",
        name="Primary on-call",
        time_zone="UTC",
        rotation="daily",
        handoff_time="00:00",
        start_date=today - timedelta(days=10),  # day 10 of a two-person daily rotation: ana
        participants=["ana", "ben"],
    )
    await console_db.execute(
        "INSERT INTO oncall_schedules (id, name, time_zone, rotation, handoff_time, start_date, participants, "
        "feed_token) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        schedule.id,
        schedule.name,
        schedule.time_zone,
        schedule.rotation,
        schedule.handoff_time,
        schedule.start_date,
        schedule.participants,
        oncall.new_feed_token(),
    )
    async with live_server("console") as base_url:
        yield base_url
    await console_db.execute("TRUNCATE oncall_schedules CASCADE")


async def test_an_admin_overrides_who_is_on_call(console, console_db, new_page):
    await ensure_user(console_db, "ada", "admin")
    page = await new_page(**KO)
    await sign_in(page, console, "ada", "/oncall")
    card = page.locator('[data-schedule="primary"]')
    await expect(card.locator("[data-on-call-now]")).to_contain_text("ana")
    await expect(card.locator("[data-participants]")).to_have_text("ana → ben")
    await expect(card.locator("[data-feed]")).to_contain_text("/api/oncall/schedules/primary/calendar.ics?token=")
    for width in (375, 1280):
        await page.set_viewport_size({"width": width, "height": 900})
        await assert_accessible(page)

    form = card.locator("form[data-method='POST']")
    now = datetime.now(UTC)
    await form.get_by_label("사용자").fill("nobody-here")
    await form.get_by_label("시작 (UTC)").fill((now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_label("종료 (UTC)").fill((now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_role("button", name="대체 근무 추가").click()
    await expect(page.locator('[data-error-for="ov-primary-username"]')).to_contain_text("nobody-here", timeout=WAIT_MS)
    page.problems.allow("status of 422")

    await form.get_by_label("사용자").fill("dee")
    await form.get_by_label("메모").fill("ana at the dentist")
    async with page.expect_navigation(timeout=WAIT_MS):
        await form.get_by_role("button", name="대체 근무 추가").click()
    card = page.locator('[data-schedule="primary"]')
    await expect(card.locator("[data-on-call-now]")).to_contain_text("dee")
    await expect(card.locator("[data-on-call-now]")).to_contain_text("대체 근무")
    override = card.locator("[data-override]")
    await expect(override).to_contain_text("ana at the dentist")
    row = await console_db.fetchrow("SELECT username, note, created_by FROM oncall_overrides")
    assert dict(row) == {"username": "dee", "note": "ana at the dentist", "created_by": "ada"}

    page.on("dialog", lambda dialog: dialog.accept())
    async with page.expect_navigation(timeout=WAIT_MS):
        await override.get_by_role("button", name="삭제").click()
    await expect(page.locator('[data-schedule="primary"] [data-on-call-now]')).to_contain_text("ana")
    assert await console_db.fetchval("SELECT count(*) FROM oncall_overrides") == 0


async def test_a_viewer_sees_who_is_on_call_without_the_forms(console, console_db, new_page):
    await ensure_user(console_db, "vic", "viewer")
    page = await new_page(**KO)
    await sign_in(page, console, "vic", "/oncall")
    card = page.locator('[data-schedule="primary"]')
    await expect(card.locator("[data-on-call-now]")).to_contain_text("ana")
    await expect(card.locator("form")).to_have_count(0)
    await expect(card.locator("[data-feed]")).to_have_count(0)
    await expect(page.get_by_role("link", name="온콜")).to_have_attribute("aria-current", "page")
