"""The console's escalation section in a real browser: an escalating incident shows its policy, the
levels paged and the next one; Acknowledge stops it (the page shows who), and the section passes axe."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from playwright.async_api import expect

from app.escalation import engine
from tests.pages.conftest import assert_accessible
from tests.pages.console.test_browser import KO, WAIT_MS, create_incident, sign_in


@pytest.fixture
async def console(live_server, console_db):
    await console_db.execute("TRUNCATE escalation_policies, incident_escalations, escalation_log")
    levels = [
        {"delaySeconds": 0, "subscriptions": ["automation"], "priorities": []},
        {"delaySeconds": 3600, "subscriptions": ["on-call"], "priorities": []},
    ]
    await console_db.execute(
        "INSERT INTO escalation_policies (id, name, levels) VALUES ('browser', 'browser', $1::jsonb)",
        json.dumps(levels),
    )
    async with live_server("console") as base_url:
        yield base_url
    await console_db.execute("TRUNCATE escalation_policies, incident_escalations, escalation_log")


async def test_acknowledge_from_the_console_stops_the_escalation(console, console_db, new_page):
    incident = await create_incident(console, console_db)
    assert (await engine.tick(console_db, datetime.now(timezone.utc), 86_400))["fired"] == 1
    page = await new_page(**KO)
    await sign_in(page, console, "rita", f"/{incident['id']}")
    section = page.locator("#escalation")
    await expect(section).to_contain_text("다음 레벨 2")
    await expect(section.locator(".timeline-entry")).to_have_count(2)  # started, level 1 paged
    await assert_accessible(page)

    await section.get_by_role("button", name="확인(Acknowledge)").click()
    await expect(page.locator("#escalation-acknowledged")).to_contain_text("rita", timeout=WAIT_MS)
    await expect(page.locator("#acknowledge-button")).to_have_count(0)
    row = await console_db.fetchrow("SELECT * FROM incident_escalations WHERE incident_id = $1", incident["id"])
    assert (row["acknowledged_by"], row["stop_reason"]) == ("rita", "acknowledged")
    actions = await console_db.fetch(
        "SELECT action FROM escalation_log WHERE incident_id = $1 ORDER BY id", incident["id"]
    )
    assert [a["action"] for a in actions] == ["started", "paged", "acknowledged"]
