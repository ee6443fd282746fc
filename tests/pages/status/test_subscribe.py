"""The subscribe form of the status page and the pages of a subscriber's links, in a real browser
(Debian Chromium): a reader subscribes with a choice of services, a bad receiver is named, the
confirmation page confirms on its button (not on opening), the manage page changes the services and
unsubscribes; every page passes axe."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.subscribers import tokens
from tests.pages.conftest import assert_accessible, screenshots

WAIT_MS = 10_000  # a failure bound, not a speed claim (the machine is shared)


async def _row(conn):
    return await conn.fetchrow("SELECT * FROM subscriptions WHERE public")


async def test_a_reader_subscribes_confirms_and_manages(conn, live_server, new_page):
    async with live_server("status") as base:
        page = await new_page(width=1280, locale="en-US")
        await page.goto(f"{base}/?lang=en")
        form = page.locator("#subscribe-form")
        await form.scroll_into_view_if_needed()
        await assert_accessible(page)

        # A webhook on loopback is refused, and the answer names the field.
        await form.get_by_role("radio", name="Webhook").check()
        assert await form.get_by_label("Email address").is_hidden()
        await form.get_by_label("Webhook URL").fill("http://127.0.0.1:9/hook")
        await form.get_by_role("button", name="Subscribe").click()
        result = form.locator(".subscribe-result")
        await result.filter(has_text="url").wait_for(timeout=WAIT_MS)
        page.problems.allow("422")
        assert await conn.fetchval("SELECT count(*) FROM subscriptions") == 0

        # An email address for one service.
        await form.get_by_role("radio", name="Email").check()
        await form.get_by_label("Email address").fill("reader@example.com")
        await form.get_by_label("All services").uncheck()
        await form.get_by_label("Face Compare").check()
        await form.get_by_role("button", name="Subscribe").click()
        await result.filter(has_text="confirmation message").wait_for(timeout=WAIT_MS)
        await screenshots(page, "status-subscribe")
        row = await _row(conn)
        assert row["email"] == "reader@example.com" and list(row["service_ids"]) == ["face-compare"]
        assert not row["active"]

        # The confirmation link: opening it changes nothing; the button confirms.
        expires = datetime.now(timezone.utc) + timedelta(hours=1)
        confirm = tokens.issue("test-secret", "confirm", row["id"], row["confirm_nonce"], expires)
        page = await new_page(width=375, locale="en-US")
        await page.goto(f"{base}/subscriptions/confirm?token={confirm}&lang=en")
        assert not (await _row(conn))["active"]
        await assert_accessible(page)
        await page.get_by_role("button", name="Confirm subscription").click()
        await page.locator(".subscribe-result").filter(has_text="confirmed").wait_for(timeout=WAIT_MS)
        assert (await _row(conn))["active"]

        # The manage link: shows the masked address and the choice; saves another; unsubscribes.
        manage = tokens.issue("test-secret", "manage", row["id"], row["link_nonce"])
        page = await new_page(width=1280, locale="en-US")
        await page.goto(f"{base}/subscriptions/manage?token={manage}&lang=en")
        await (
            page.locator(".subscription-receiver")
            .filter(has_text="r…@example.com · subscribed")
            .wait_for(timeout=WAIT_MS)
        )
        assert "reader@example.com" not in await page.content()
        assert await page.get_by_label("Face Compare").is_checked()
        await assert_accessible(page)
        await page.get_by_label("All services").check()
        await page.get_by_role("button", name="Save services").click()
        await page.locator(".subscribe-result").filter(has_text="saved").wait_for(timeout=WAIT_MS)
        assert list((await _row(conn))["service_ids"]) == []
        await page.get_by_role("button", name="Unsubscribe").click()
        await page.locator(".subscribe-result").filter(has_text="unsubscribed").wait_for(timeout=WAIT_MS)
        assert not (await _row(conn))["active"]


async def test_the_form_speaks_korean_by_default(conn, live_server, new_page):
    async with live_server("status") as base:
        page = await new_page(locale="ko-KR")
        await page.goto(base + "/")
        assert await page.locator("#subscribe-heading").text_content() == "알림 받기"
        await page.get_by_label("이메일 주소").fill("독자@example.com")
        await page.get_by_role("button", name="구독하기").click()
        await page.locator(".subscribe-result").filter(has_text="확인 메시지").wait_for(timeout=WAIT_MS)
        assert await conn.fetchval("SELECT email FROM subscriptions WHERE public") == "독자@example.com"
