"""The public status page in a real browser (Debian Chromium): it shows what the API says, updates
live from Redis without a reload, passes axe, speaks Korean by default and English on request, and
still renders when Redis is down."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app.incidents import queries as incident_queries
from app.ingest.service import CheckRow, write_checks
from app.periods import day_start
from app.realtime.publisher import Publisher, channel_for
from tests.app.conftest import PASSWORD, create_user, staff_db  # noqa: F401  (staff_db: a fixture)
from tests.pages.conftest import assert_accessible, free_port, screenshots

SERVICES = ("id-recognition", "face-liveness", "id-liveness", "face-compare", "curp-verifier")
WAIT_MS = 10_000  # a failure bound, not a speed claim (the machine is shared)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(second=0, microsecond=0)


@pytest.fixture
async def history(conn):
    """Minute checks since the day before yesterday (real clock; that day stays quiet): face-compare
    failed 30 slots yesterday at 10:00, and id-recognition's last 3 slots failed (outage now); a
    resolved P1 yesterday on face-compare, an open P2 on face-liveness with two updates, a
    maintenance window in progress on curp-verifier."""
    now = _now()
    today = now.date()
    start = day_start(today - timedelta(days=2), timezone.utc)
    failing_from = start + timedelta(days=1, hours=10)
    rows = []
    minute = start
    while minute <= now:
        for sid in SERVICES:
            failed = (sid == "face-compare" and failing_from <= minute < failing_from + timedelta(minutes=30)) or (
                sid == "id-recognition" and minute > now - timedelta(minutes=3)
            )
            rows.append(
                CheckRow(
                    minute,
                    sid,
                    "seoul",
                    not failed,
                    503 if failed else 200,
                    120,
                    "http_error" if failed else None,
                    "unexpected status 503" if failed else None,
                )
            )
        minute += timedelta(minutes=1)
    await write_checks(conn, rows, now=now)
    resolved = await conn.fetchval(
        incident_queries.INSERT_AT,
        "Face Compare 응답 없음",
        "전체 중단",
        "resolved",
        "critical",
        "P1",
        "모니터링 시스템",
        "연속 3회 타임아웃",
        ["face-compare"],
        None,
        failing_from,
        failing_from + timedelta(minutes=45),
    )
    await conn.execute(
        incident_queries.INSERT_UPDATE_AT, resolved, "investigating", "조사 중입니다.", "ops", failing_from
    )
    await conn.execute(
        incident_queries.INSERT_UPDATE_AT,
        resolved,
        "resolved",
        "해결되었습니다.",
        "ops",
        failing_from + timedelta(minutes=45),
    )
    active = await conn.fetchval(
        incident_queries.INSERT_AT,
        "Face Liveness 응답 지연",
        "평균 15초 이상",
        "identified",
        "high",
        "P2",
        "모니터링 시스템",
        "연속 3회 7초 초과",
        ["face-liveness"],
        None,
        now - timedelta(minutes=50),
        None,
    )
    await conn.execute(
        incident_queries.INSERT_UPDATE_AT,
        active,
        "investigating",
        "지연을 조사 중입니다.",
        "ops",
        now - timedelta(minutes=50),
    )
    await conn.execute(
        incident_queries.INSERT_UPDATE_AT,
        active,
        "identified",
        "연결 풀 부족으로 확인했습니다.",
        "ops",
        now - timedelta(minutes=20),
    )
    await conn.execute(
        """INSERT INTO maintenance_windows (title, description, affected_services, starts_at, ends_at)
                          VALUES ($1, $2, $3, $4, $5)""",
        "DB 점검",
        "정기 점검",
        ["curp-verifier"],
        now - timedelta(minutes=5),
        now + timedelta(hours=1),
    )
    return {"now": now, "resolved": resolved, "active": active, "yesterday": (today - timedelta(days=1)).isoformat()}


async def api_status(base: str) -> dict:
    async with httpx.AsyncClient(base_url=base) as client:
        return (await client.get("/api/system-status")).json()


async def rows_on_page(page) -> list[dict]:
    return await page.eval_on_selector_all(
        ".service",
        """rows => rows.map(r => ({
        id: r.dataset.service, name: r.querySelector("h3").textContent.trim(),
        state: r.querySelector(".state").dataset.state,
        uptime: r.querySelector(".uptime").textContent.trim(),
        codes: [...r.querySelectorAll(".grid i")].map(c => c.className.split(" ")[0].slice(2))}))""",
    )


async def test_page_shows_the_figures_of_the_api(history, live_server, new_page):
    async with live_server("status") as base:
        page = await new_page(width=1280, locale="en-US")
        await page.goto(base + "/?lang=en")
        api = await api_status(base)
        rows = await rows_on_page(page)
        assert [r["id"] for r in rows] == [s["id"] for s in api["services"]]
        for row, service in zip(rows, api["services"]):
            assert row["name"] == service["name"]
            assert row["state"] == service["status"]
            assert row["codes"] == service["uptimeData"] and len(row["codes"]) == 90
            assert row["uptime"] == f"{service['uptime']}% uptime over 90 days"
        states = {r["id"]: r["state"] for r in rows}
        assert states["id-recognition"] == "outage" and states["face-liveness"] == "degraded"
        assert await page.get_attribute("#banner", "data-status") == api["overallStatus"] == "outage"
        assert await page.text_content("#banner .banner-text") == "Service outage"
        assert re.search(r"Data as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\)", await page.text_content("#as-of"))

        # Active incident and maintenance on top, with the timeline newest first.
        active = page.locator("#active .active-incidents .incident")
        assert await active.count() == 1
        assert "Face Liveness 응답 지연" in await active.text_content()
        assert await active.locator(".timeline li").all_text_contents() != []
        timeline = [t.strip() for t in await active.locator(".timeline li strong").all_text_contents()]
        assert timeline == ["Identified", "Investigating"]
        window = await page.text_content("#active .maintenance")
        assert "DB 점검" in window and "In progress" in window and "Curp Verifier" in window

        # Past incidents by day: yesterday's P1 with its timeline; quiet days say so; days before the
        # first check say the data is being prepared.
        yesterday = page.locator(f'.past-day:has(time[datetime="{history["yesterday"]}"])')
        assert "Face Compare 응답 없음" in await yesterday.text_content()
        assert "Resolved in 45m" in await yesterday.text_content()
        quiet = await page.locator(".past-day .no-incidents").all_text_contents()
        assert quiet[0] == "No incidents reported." and set(quiet[1:]) == {"Data is being prepared."}

        # The tooltip of yesterday's face-compare day: its availability, downtime and incident, from the
        # rows written above (1410 of 1440 slots ok -> 97.91 truncated, 30 failed minutes).
        grid = page.locator('.service[data-service="face-compare"] .grid')
        assert "Face Compare, last 90 days: " in await grid.get_attribute("aria-label")
        await grid.focus()
        tip = page.locator("#bar-tip")
        await tip.wait_for(state="visible")
        assert history["now"].date().isoformat() in await tip.text_content()
        await page.keyboard.press("ArrowLeft")
        text = await tip.text_content()
        assert f"{history['yesterday']} · Major outage (mo)" in text
        assert "97.91%" in text and "30m" in text and "P1 Face Compare 응답 없음" in text
        await page.keyboard.press("Escape")
        await tip.wait_for(state="hidden")
        await page.keyboard.press("Home")
        assert (history["now"].date() - timedelta(days=89)).isoformat() in await tip.text_content()
        assert "No data" in await tip.text_content()


async def test_korean_by_default_and_english_on_request(history, live_server, new_page):
    async with live_server("status") as base:
        async with httpx.AsyncClient(base_url=base) as client:
            html = (await client.get("/")).text  # no Accept-Language at all
            assert '<html lang="ko">' in html and "서비스 장애가 발생했습니다" in html
            assert "특별한 문제가 없습니다." in html and "데이터를 준비 중입니다." in html
        page = await new_page(locale="ko-KR")
        await page.goto(base + "/")
        assert await page.get_attribute("html", "lang") == "ko"
        assert await page.text_content('.service[data-service="face-liveness"] .state') == "성능 저하"
        await page.click('.lang-switch a[lang="en"]')
        await page.wait_for_url(re.compile(r"lang=en"))
        assert await page.get_attribute("html", "lang") == "en"
        await page.goto(base + "/")  # the choice is remembered in the cookie
        assert await page.text_content('.service[data-service="face-liveness"] .state') == "Degraded"


async def test_accessible_and_screenshots(history, live_server, new_page):
    async with live_server("status") as base:
        for lang, width in (("ko", 375), ("en", 1280)):
            page = await new_page(width=width)
            await page.goto(f"{base}/?lang={lang}")
            await page.wait_for_selector('.live-state[data-state="live"]', timeout=WAIT_MS)
            await assert_accessible(page)
            await page.focus(".service .grid")
            await page.locator("#bar-tip").wait_for(state="visible")
            await assert_accessible(page)
            await screenshots(page, f"status-page-{lang}")
        # 360 px: the narrowest supported; no horizontal scrolling, the last 30 days shown.
        page = await new_page(width=360)
        await page.goto(base + "/?lang=en")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        visible = await page.eval_on_selector_all(
            '.service[data-service="face-compare"] .grid i',
            "cells => cells.filter(c => c.offsetParent !== null).length",
        )
        assert visible == 30
        await page.keyboard.press("Tab")  # skip link
        for _ in range(4):  # the home link, the two nav links, then the first grid
            await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.closest('.service').dataset.service") == "id-recognition"
        for _ in range(40):  # never past the oldest day shown
            await page.keyboard.press("ArrowLeft")
        assert (history["now"].date() - timedelta(days=29)).isoformat() in await page.text_content("#bar-tip")


async def test_status_changes_and_incidents_appear_without_reload(
    history,
    staff_db,
    live_server,
    new_page,  # noqa: F811
    settings,
):
    await create_user(staff_db, "reporter", "reporter")
    async with live_server("status") as base:
        page = await new_page(locale="en-US")
        await page.goto(base + "/")
        await page.wait_for_selector('.live-state[data-state="live"]', timeout=WAIT_MS)
        await page.evaluate("window.__notReloaded = true")

        # A prober's status change, through Redis like any other process's.
        publisher = Publisher(settings.redis_url, channel_for(settings))
        try:
            await publisher.publish(
                "status-update",
                {"serviceId": "curp-verifier", "status": "outage", "timestamp": datetime.now(timezone.utc).isoformat()},
                ["system-status"],
            )
            await page.wait_for_selector(
                '.service[data-service="curp-verifier"] .state[data-state="outage"]', timeout=WAIT_MS
            )
            assert await page.text_content('.service[data-service="curp-verifier"] .state') == "Outage"
            await page.wait_for_function(
                "() => document.getElementById('announcer').textContent.includes('Curp Verifier')", timeout=WAIT_MS
            )
            await publisher.publish(
                "uptime-updated",
                {"serviceId": "curp-verifier", "date": history["yesterday"], "status": "po"},
                ["uptime"],
            )
            await page.wait_for_selector(
                '.service[data-service="curp-verifier"] .grid i:nth-child(89).d-po', timeout=WAIT_MS
            )  # yesterday: the 89th of 90 days
        finally:
            await publisher.close()

        # A new incident and its update, written through the REST API by a reporter.
        async with httpx.AsyncClient(base_url=base) as client:
            token = (await client.post("/api/auth/login", json={"username": "reporter", "password": PASSWORD})).json()
            headers = {"Authorization": f"Bearer {token['accessToken']}"}
            created = (
                await client.post(
                    "/api/incidents",
                    headers=headers,
                    json={
                        "title": "ID Liveness 전체 중단",
                        "severity": "critical",
                        "affected_services": ["id-liveness"],
                    },
                )
            ).json()
            incident = page.locator(f'#active .incident[data-incident="{created["incident"]["id"]}"]')
            await incident.wait_for(timeout=WAIT_MS)
            assert "ID Liveness 전체 중단" in await incident.text_content()
            await page.wait_for_selector(
                '.service[data-service="id-liveness"] .state[data-state="outage"]', timeout=WAIT_MS
            )  # an open P1 makes its service an outage
            r = await client.post(
                f"/api/incidents/{created['incident']['id']}/updates",
                headers=headers,
                json={
                    "status": "identified",
                    "description": "원인을 찾았습니다.",
                    "version": created["incident"]["version"],
                },
            )
            assert r.status_code == 201, r.text
            await page.wait_for_function(
                f"""() => (document.querySelector('#active .incident[data-incident="{created["incident"]["id"]}"]')
                     ?.textContent || '').includes('원인을 찾았습니다.')""",
                timeout=WAIT_MS,
            )
            assert await page.evaluate("window.__notReloaded") is True


async def _drop_every_socket(app) -> int:
    """What an API process shedding its sockets does: a server-side disconnect of each."""
    sio = app.state.realtime.sio
    sids = [sid for sid, _ in sio.manager.get_participants("/", None)]
    for sid in sids:
        await sio.disconnect(sid)
    return len(sids)


async def test_after_a_server_side_disconnect_the_page_rejoins_and_keeps_receiving_events(
    history, live_server, new_page, settings
):
    apps = []
    async with live_server("status", setup=apps.append) as base:
        page = await new_page(locale="en-US")
        await page.goto(base + "/")
        await page.wait_for_selector('.live-state[data-state="live"]', timeout=WAIT_MS)
        await page.evaluate("window.__notReloaded = true; document.getElementById('services').dataset.before = '1'")
        assert await _drop_every_socket(apps[0]) == 1
        await page.wait_for_selector('.live-state[data-state="offline"]', timeout=WAIT_MS)
        await page.wait_for_selector('.live-state[data-state="live"]', timeout=WAIT_MS)  # re-joined by itself
        # and re-fetched what it may have missed (after which the event below must not be overwritten)
        await page.wait_for_selector("#services:not([data-before])", timeout=WAIT_MS)
        publisher = Publisher(settings.redis_url, channel_for(settings))
        try:
            await publisher.publish(
                "status-update",
                {"serviceId": "curp-verifier", "status": "outage", "timestamp": datetime.now(timezone.utc).isoformat()},
                ["system-status"],
            )
            await page.wait_for_selector(
                '.service[data-service="curp-verifier"] .state[data-state="outage"]', timeout=WAIT_MS
            )
        finally:
            await publisher.close()
        assert await page.evaluate("window.__notReloaded") is True


async def test_page_renders_with_redis_down(history, live_server, new_page):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    async with live_server("status", redis_url=dead_redis) as base:
        page = await new_page(locale="en-US")
        response = await page.goto(base + "/")
        assert response.status == 200
        assert re.search(r"Data as of .* \(UTC\)", await page.text_content("#as-of"))
        assert await page.locator(".service").count() == len(SERVICES)
        await page.wait_for_selector('.live-state[data-state="offline"]', timeout=WAIT_MS)
        assert "reconnecting" in await page.text_content(".live-state")
        page.problems.allow("socket.io")
