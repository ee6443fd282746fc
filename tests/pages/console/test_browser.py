"""The incident console in a real browser (Debian Chromium): an incident opened in the console reaches
the status page live; two people on one incident see each other and get a conflict instead of a
silent overwrite; keyboard use (Ctrl+S, Esc); drafts; role-aware controls; axe on every page;
screenshots at 375 and 1280 px."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from tests.app.conftest import PASSWORD
from tests.pages.conftest import assert_accessible, screenshots
from tests.pages.console.conftest import ensure_user

WAIT_MS = 10_000  # a failure bound, not a speed claim (the machine is shared)
KO = {"locale": "ko-KR"}  # Accept-Language: the console in its default language, as the labels below are


@pytest.fixture
async def console(live_server, console_db):
    async with live_server("console") as base_url:
        yield base_url


async def sign_in(page, base_url: str, username: str, path: str = "/"):
    await page.goto(f"{base_url}/login?next={path}")
    await page.get_by_label(re.compile("사용자명|Username")).fill(username)
    await page.get_by_label(re.compile("비밀번호|Password")).fill(PASSWORD)
    await page.get_by_role("button", name=re.compile("^(로그인|Sign in)$")).click()
    await page.wait_for_url(re.compile(re.escape(base_url + path.split("?")[0])))
    await page.wait_for_selector('#live-state[data-state="live"]', timeout=WAIT_MS)


async def create_incident(base_url: str, conn, **fields) -> dict:
    await ensure_user(conn, "rita", "reporter")
    async with httpx.AsyncClient(base_url=base_url) as client:
        token = (await client.post("/api/auth/login", json={"username": "rita", "password": PASSWORD})).json()
        body = {
            "title": "ID 인식 지연",
            "description": "평균 9초",
            "severity": "high",
            "affected_services": ["id-recognition"],
            **fields,
        }
        r = await client.post("/api/incidents", json=body, headers={"Authorization": f"Bearer {token['accessToken']}"})
        assert r.status_code == 201, r.text
        return r.json()["incident"]


async def test_an_incident_opened_in_the_console_appears_on_the_status_page_without_reload(
    live_server, console, console_db, new_page
):
    await ensure_user(console_db, "rita", "reporter")
    async with live_server("status") as status_url:
        status = await new_page(**KO)
        await status.goto(status_url)
        await status.wait_for_selector('[data-state="live"]', timeout=WAIT_MS)
        page = await new_page(**KO)
        await sign_in(page, console, "rita", "/create")
        await page.get_by_label(re.compile("^제목")).fill("Face Compare 응답 없음")
        await page.get_by_label(re.compile("^심각도")).select_option("critical")
        await expect(page.get_by_label("우선순위")).to_have_value("P1")  # suggested from severity
        await page.get_by_label("Face Compare").check()
        await page.get_by_role("button", name="등록").click()
        await page.wait_for_url(re.compile(r"/inc-\d{4}-\d+"))
        await expect(status.get_by_text("Face Compare 응답 없음").first).to_be_visible(timeout=3000)
    incident = await console_db.fetchrow("SELECT title, priority, affected_services FROM incidents")
    assert dict(incident) == {
        "title": "Face Compare 응답 없음",
        "priority": "P1",
        "affected_services": ["face-compare"],
    }


async def test_two_people_see_each_other_and_a_stale_save_is_a_conflict_not_an_overwrite(console, console_db, new_page):
    incident = await create_incident(console, console_db)
    await ensure_user(console_db, "alice", "reporter")
    await ensure_user(console_db, "bob", "admin")
    alice, bob = await new_page(**KO), await new_page(width=375, **KO)
    await sign_in(alice, console, "alice", f"/{incident['id']}")
    await sign_in(bob, console, "bob", f"/{incident['id']}")
    await expect(alice.locator("#presence-list")).to_contain_text("bob", timeout=WAIT_MS)
    await expect(bob.locator("#presence-list")).to_contain_text("alice", timeout=WAIT_MS)

    await bob.get_by_label(re.compile("^제목")).focus()
    await expect(alice.locator('[data-editing-for="title"]')).to_contain_text("bob", timeout=WAIT_MS)
    await bob.get_by_label(re.compile("^제목")).fill("Bob의 제목")
    await alice.get_by_label(re.compile("^제목")).fill("Alice의 제목")
    await alice.get_by_label("상세 설명").fill("Alice가 쓴 설명")
    await alice.get_by_role("button", name="저장", exact=True).click()
    await expect(alice.locator("#incident-title")).to_have_text("Alice의 제목", timeout=WAIT_MS)
    await expect(bob.locator("#incident-title")).to_have_text("Alice의 제목", timeout=WAIT_MS)  # live

    await bob.get_by_role("button", name="저장", exact=True).click()
    conflict = bob.locator("#conflict")
    await expect(conflict).to_be_visible(timeout=WAIT_MS)
    bob.problems.allow("status of 409")  # the browser logs the API's answer
    await expect(conflict.locator('[data-field="title"] .mine')).to_have_text("Bob의 제목")
    await expect(conflict.locator('[data-field="title"] .theirs')).to_have_text("Alice의 제목")
    await expect(bob.get_by_label(re.compile("^제목"))).to_have_value("Bob의 제목")  # nothing typed is lost
    assert await console_db.fetchval("SELECT title FROM incidents") == "Alice의 제목"  # no silent overwrite
    await screenshots(bob, "console-conflict")

    await conflict.get_by_role("button", name="선택한 값으로 저장").click()
    await expect(alice.locator("#incident-title")).to_have_text("Bob의 제목", timeout=WAIT_MS)
    row = await console_db.fetchrow("SELECT title, description, version FROM incidents")
    assert dict(row) == {"title": "Bob의 제목", "description": "Alice가 쓴 설명", "version": 3}  # theirs kept


async def test_keyboard_only_create_with_ctrl_s_and_field_errors(console, console_db, new_page):
    await ensure_user(console_db, "rita", "reporter")
    page = await new_page(**KO)
    await sign_in(page, console, "rita", "/create")
    title = page.get_by_label(re.compile("^제목"))
    await title.focus()
    await page.keyboard.type("   ")
    await page.keyboard.press("Tab")  # description
    await page.keyboard.press("Tab")  # severity
    await expect(page.get_by_label(re.compile("^심각도"))).to_be_focused()
    await page.keyboard.press("Control+s")
    error = page.locator('[data-error-for="severity"]')
    await expect(error).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator('[data-error-for="title"]')).to_contain_text("blank")
    await expect(title).to_have_attribute("aria-invalid", "true")
    page.problems.allow("status of 422")  # the browser logs the API's answer
    assert await console_db.fetchval("SELECT count(*) FROM incidents") == 0

    await page.get_by_label(re.compile("^심각도")).select_option("medium")
    await expect(page.get_by_label("우선순위")).to_have_value("P3")
    await page.get_by_label("우선순위").select_option("P1")  # overridden by the person
    await page.get_by_label(re.compile("^심각도")).select_option("low")
    await expect(page.get_by_label("우선순위")).to_have_value("P1")
    await title.fill("키보드로 등록")
    await title.press("Control+s")
    await page.wait_for_url(re.compile(r"/inc-\d{4}-\d+"))
    row = await console_db.fetchrow("SELECT title, severity, priority FROM incidents")
    assert dict(row) == {"title": "키보드로 등록", "severity": "low", "priority": "P1"}


async def test_escape_cancels_an_edit_and_status_changes_need_a_note(console, console_db, new_page):
    incident = await create_incident(console, console_db, status="resolved")
    await ensure_user(console_db, "rita", "reporter")
    page = await new_page(**KO)
    await sign_in(page, console, "rita", f"/{incident['id']}")
    title = page.get_by_label(re.compile("^제목"))
    await title.fill("바꾸다 만 제목")
    await title.press("Escape")
    await expect(title).to_have_value("ID 인식 지연")

    status_form = page.locator("#status-form")
    await status_form.get_by_label("상태").select_option("identified")
    await status_form.get_by_role("button", name="업데이트 등록").click()
    await expect(page.locator('[data-error-for="status-description"]')).to_be_visible()
    await status_form.get_by_label(re.compile("^업데이트 메모")).fill("원인을 찾았습니다")
    await status_form.get_by_role("button", name="업데이트 등록").click()
    alert = page.locator("#status-errors")
    await expect(alert).to_contain_text("resolved", timeout=WAIT_MS)  # 409: resolved -> identified is refused
    await expect(status_form.get_by_label(re.compile("^업데이트 메모"))).to_have_value("원인을 찾았습니다")
    page.problems.allow("status of 409")  # the browser logs the API's answer
    await status_form.get_by_label("상태").select_option("investigating")  # a reopen is allowed
    await status_form.get_by_role("button", name="업데이트 등록").click()
    await expect(page.locator("#incident-status")).to_contain_text("조사 중", timeout=WAIT_MS)
    await expect(page.locator("#timeline .timeline-entry").first).to_contain_text("원인을 찾았습니다")
    assert await console_db.fetchval("SELECT status FROM incidents") == "investigating"


async def test_drafts_are_saved_every_30_seconds_and_restored_on_reload(console, console_db, new_page):
    incident = await create_incident(console, console_db)
    await ensure_user(console_db, "rita", "reporter")
    page = await new_page(**KO)
    await page.clock.install()
    await sign_in(page, console, "rita", f"/{incident['id']}")
    await page.get_by_label("상세 설명").fill("반쯤 쓴 설명")
    await page.clock.fast_forward(31_000)
    await expect(page.locator("#saved-at")).to_contain_text("임시 저장됨", timeout=WAIT_MS)
    draft = await console_db.fetchval("SELECT data->>'description' FROM incident_drafts")
    assert draft == "반쯤 쓴 설명"
    await page.reload()
    await expect(page.get_by_label("상세 설명")).to_have_value("반쯤 쓴 설명")
    await expect(page.locator("#draft-notice")).to_contain_text("복원")


async def test_comments_arrive_live_and_roles_see_only_their_controls(console, console_db, new_page):
    incident = await create_incident(console, console_db)
    for username, role in (("vic", "viewer"), ("rita", "reporter"), ("rob", "reporter")):
        await ensure_user(console_db, username, role)
    viewer, reporter, other = await new_page(**KO), await new_page(**KO), await new_page(width=375, **KO)
    await sign_in(viewer, console, "vic", f"/{incident['id']}")
    await sign_in(reporter, console, "rita", f"/{incident['id']}")
    await sign_in(other, console, "rob", f"/{incident['id']}")
    # The viewer: no write control at all, but the room's presence (read-only, shown as a viewer to others)
    assert await viewer.locator("#incident :is(form, textarea, select, input, button)").count() == 0
    assert await viewer.get_by_role("link", name="인시던트 등록").count() == 0
    await expect(viewer.locator("#presence-list")).to_contain_text("rita", timeout=WAIT_MS)
    await expect(viewer.locator("#presence-list")).to_contain_text("rob", timeout=WAIT_MS)
    await expect(reporter.locator("#presence-list")).to_contain_text("vic (조회자)", timeout=WAIT_MS)
    assert await reporter.get_by_role("button", name="삭제").count() == 0
    assert await reporter.get_by_role("link", name="사용자").count() == 0
    await viewer.evaluate("window.notReloaded = true")
    await reporter.get_by_label("댓글 작성").fill("DB 연결 풀을 늘렸습니다")
    await reporter.get_by_role("button", name="댓글 등록").click()
    await expect(other.locator("#comments")).to_contain_text("DB 연결 풀을 늘렸습니다", timeout=WAIT_MS)
    await expect(viewer.locator("#comments")).to_contain_text("DB 연결 풀을 늘렸습니다", timeout=WAIT_MS)
    assert await viewer.evaluate("window.notReloaded") is True  # arrived live, not by a reload
    await expect(reporter.locator("#comments .comment")).to_have_count(1)  # its own, once
    await assert_accessible(viewer)
    await screenshots(viewer, "console-detail-viewer")


async def test_new_incidents_and_status_changes_appear_in_the_list_with_a_toast(console, console_db, new_page):
    await ensure_user(console_db, "vic", "viewer")
    page = await new_page(permissions=["notifications"], **KO)
    await sign_in(page, console, "vic", "/")
    toggle = page.get_by_role("button", name="브라우저 알림 켜기")
    await toggle.click()
    await expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#notify-toggle")).to_have_text("브라우저 알림 끄기")
    incident = await create_incident(console, console_db, title="새로 생긴 장애")
    row = page.locator(f'[data-incident-id="{incident["id"]}"]')
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#toasts")).to_contain_text("새로 생긴 장애")
    async with httpx.AsyncClient(base_url=console) as client:
        token = (await client.post("/api/auth/login", json={"username": "rita", "password": PASSWORD})).json()
        r = await client.post(
            f"/api/incidents/{incident['id']}/updates",
            headers={"Authorization": f"Bearer {token['accessToken']}"},
            json={"status": "monitoring", "description": "복구 후 관찰 중", "version": incident["version"]},
        )
        assert r.status_code == 201, r.text
    await expect(row.locator(".badge").first).to_have_text("모니터링", timeout=WAIT_MS)
    await expect(page.locator("#toasts")).to_contain_text(f"{incident['id']} 상태 변경: 모니터링")


async def test_every_page_passes_axe_at_both_widths(console, console_db, new_page):
    incident = await create_incident(console, console_db, note="초기 대응")
    await ensure_user(console_db, "ada", "admin")
    anonymous = await new_page(**KO)
    await anonymous.goto(f"{console}/login")
    await assert_accessible(anonymous)
    await screenshots(anonymous, "console-login")
    page = await new_page(**KO)
    await sign_in(page, console, "ada")
    for path, name in [
        ("/", "open"),
        ("/history", "history"),
        ("/create", "create"),
        (f"/{incident['id']}", "detail"),
        ("/admin/users", "admin-users"),
        ("/admin/services", "admin-services"),
        ("/admin/maintenance", "admin-maintenance"),
        ("/slo", "slo"),
        ("/history?lang=en", "history-en"),
    ]:
        await page.goto(console + path)
        await assert_accessible(page)
        await screenshots(page, f"console-{name}")
        await page.set_viewport_size({"width": 375, "height": 800})
        await assert_accessible(page)
        await page.set_viewport_size({"width": 1280, "height": 900})


async def test_escape_leaves_the_create_form_and_the_draft_comes_back(console, console_db, new_page):
    await ensure_user(console_db, "rita", "reporter")
    page = await new_page(**KO)
    await sign_in(page, console, "rita", "/create")
    await page.get_by_label(re.compile("^제목")).fill("쓰다 만 인시던트")
    await page.get_by_label("Face Liveness").check()
    await page.keyboard.press("Escape")
    await page.wait_for_url(console + "/")
    await page.goto(console + "/create")
    await expect(page.get_by_label(re.compile("^제목"))).to_have_value("쓰다 만 인시던트")
    await expect(page.get_by_label("Face Liveness")).to_be_checked()
    await expect(page.locator("#draft-notice")).to_contain_text("복원")
    await page.get_by_role("button", name="임시 저장본 삭제").click()
    await expect(page.get_by_label(re.compile("^제목"))).to_have_value("")
    assert await console_db.fetchval("SELECT count(*) FROM incident_drafts") == 0


async def test_admins_manage_users_service_tiers_and_maintenance(console, console_db, new_page):
    await ensure_user(console_db, "ada", "admin")
    await ensure_user(console_db, "vic", "viewer")
    page = await new_page(**KO)
    await sign_in(page, console, "ada", "/admin/users")
    vic = page.locator('[data-user="vic"]')
    await vic.get_by_label("역할").select_option("reporter")
    async with page.expect_navigation(timeout=WAIT_MS):  # the page reloads after a change
        await vic.get_by_role("button", name="저장").click()
    await expect(page.locator('[data-user="vic"] select')).to_have_value("reporter")
    new_user = page.locator("form[data-url='/api/users'][data-method='POST']")
    await new_user.get_by_label("사용자명").fill("newbie")
    await new_user.get_by_label(re.compile("^비밀번호")).fill("short")
    await new_user.get_by_role("button", name="추가").click()
    await expect(page.locator('[data-error-for="nu-password"]')).to_be_visible(timeout=WAIT_MS)
    page.problems.allow("status of 422")
    await new_user.get_by_label(re.compile("^비밀번호")).fill("a long enough password")
    async with page.expect_navigation(timeout=WAIT_MS):
        await new_user.get_by_role("button", name="추가").click()
    await expect(page.locator('[data-user="newbie"]')).to_be_visible()
    assert await console_db.fetchval("SELECT role FROM users WHERE username = 'vic'") == "reporter"

    await page.goto(console + "/admin/services")
    service = page.locator('[data-service="face-compare"]')
    tier = await console_db.fetchval("SELECT tier FROM services WHERE id = 'face-compare'")
    try:
        await service.get_by_label("SLA 등급 (SLO)").select_option("enterprise_plus")
        await service.get_by_role("button", name="저장").click()
        await expect(service.locator("[data-form-message]")).to_have_text("저장되었습니다.", timeout=WAIT_MS)
        assert await console_db.fetchval("SELECT tier FROM services WHERE id = 'face-compare'") == "enterprise_plus"
    finally:  # the catalog outlives this test (services are not reset between tests)
        await console_db.execute("UPDATE services SET tier = $1 WHERE id = 'face-compare'", tier)

    await page.goto(console + "/admin/maintenance")
    await page.get_by_label(re.compile("^제목")).fill("DB 업그레이드")
    await page.get_by_label("ID Liveness").check()
    await page.get_by_label("시작 (UTC)").fill("2026-12-01T01:00")
    await page.get_by_label("종료 (UTC)").fill("2026-12-01T03:00")
    async with page.expect_navigation(timeout=WAIT_MS):
        await page.get_by_role("button", name="추가").click()
    await expect(page.locator("[data-window]")).to_contain_text("2026-12-01 01:00")
    window = await console_db.fetchrow(
        "SELECT title, affected_services, ends_at - starts_at AS length FROM maintenance_windows"
    )
    assert (window["title"], window["affected_services"], str(window["length"])) == (
        "DB 업그레이드",
        ["id-liveness"],
        "2:00:00",
    )


async def test_after_a_server_side_disconnect_the_detail_page_rejoins_its_incident_room(
    live_server, console_db, new_page
):
    apps = []
    async with live_server("console", setup=apps.append) as console:
        incident = await create_incident(console, console_db)
        await ensure_user(console_db, "vic", "viewer")
        viewer = await new_page(**KO)
        await sign_in(viewer, console, "vic", f"/{incident['id']}")
        await viewer.evaluate("window.notReloaded = true")
        sio = apps[0].state.realtime.sio
        sids = [sid for sid, _ in sio.manager.get_participants("/", None)]
        assert len(sids) == 1
        await sio.disconnect(sids[0])  # what an API process shedding its sockets does
        await viewer.wait_for_selector('#live-state[data-state="offline"]', timeout=WAIT_MS)
        await viewer.wait_for_selector('#live-state[data-state="live"]', timeout=WAIT_MS)
        async with httpx.AsyncClient(base_url=console) as client:
            token = (await client.post("/api/auth/login", json={"username": "rita", "password": PASSWORD})).json()
            r = await client.post(
                f"/api/incidents/{incident['id']}/comments",
                json={"message": "다시 연결됨"},
                headers={"Authorization": f"Bearer {token['accessToken']}"},
            )
            assert r.status_code == 201, r.text
        await expect(viewer.locator("#comments")).to_contain_text("다시 연결됨", timeout=WAIT_MS)
        assert await viewer.evaluate("window.notReloaded") is True
