"""Printing PDFs: one long-lived browser per process, a frozen revision printed once per language
(then served from report_pdfs), and a bounded queue whose excess gets a fast 503, while the API answers."""

import asyncio
from datetime import datetime, timezone

import httpx
import pytest

from app.reports import pdf
from app.reports import service as reports
from app.services import service as services
from tests.app.reports.test_figures import AUGUST, NOW, SID, ZONE, august  # noqa: F401
from tests.app.test_redteam import slamon_api

pytestmark = pytest.mark.skipif(not __import__("shutil").which("chromium"), reason="Debian's chromium not installed")


@pytest.fixture
async def client(conn, august, make_client):  # noqa: F811
    await reports.close_month(conn, AUGUST, NOW, ZONE)
    return await make_client(now=NOW, timezone=ZONE)


async def _pdf(client, path: str) -> bytes:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"%PDF-")
    return response.content


async def test_one_browser_prints_every_pdf_and_frozen_ones_once(client, conn):
    path = f"/api/sla/reports/{SID}/2025-08.pdf"
    first_en = await _pdf(client, path + "?lang=en")
    printer = pdf.printer(None)
    launches, printed = printer.launches, printer.printed
    assert launches >= 1
    again_en = await _pdf(client, path + "?lang=en")
    assert again_en == first_en and printer.printed == printed  # served from report_pdfs
    await _pdf(client, path + "?lang=ko")  # another language: printed once more
    await _pdf(client, f"/api/sla/reports/{SID}/2025-09.pdf")  # the running month: provisional, never kept
    await _pdf(client, f"/api/sla/reports/{SID}/2025-09.pdf")
    assert printer.printed == printed + 3
    assert printer.launches == launches  # the same browser for all of them
    rows = await conn.fetch(
        "SELECT service_id, month, revision, latest_revision, language FROM report_pdfs ORDER BY language"
    )
    assert [(r["revision"], r["latest_revision"], r["language"]) for r in rows] == [(1, 1, "en"), (1, 1, "ko")]
    assert {r["month"].isoformat() for r in rows} == {"2025-08-01"}


async def test_a_correction_is_printed_anew_and_old_revisions_list_it(client, conn):
    path = f"/api/sla/reports/{SID}/2025-08.pdf?lang=en"
    await _pdf(client, path)
    svc = await services.get(conn, SID)
    await reports.revise(conn, svc, AUGUST, NOW, ZONE, "late spool replayed", "admin", 400)
    printer = pdf.printer(None)
    printed = printer.printed
    await _pdf(client, path)  # revision 2
    await _pdf(client, path + "&revision=1")  # revision 1 now lists revision 2: printed again
    assert printer.printed == printed + 2
    keys = {(r["revision"], r["latest_revision"]) for r in await conn.fetch("SELECT * FROM report_pdfs")}
    assert keys == {(1, 1), (2, 2), (1, 2)}


async def test_a_browser_that_died_is_started_again(client):
    path = f"/api/sla/reports/{SID}/2025-09.pdf"
    await _pdf(client, path)
    printer = pdf.printer(None)
    launches = printer.launches
    await printer._browser.close()
    await _pdf(client, path)
    assert printer.launches == launches + 1


async def test_thirty_pdf_requests_queue_boundedly_and_the_api_keeps_answering(staff_db, database_url, tmp_path):
    """30 concurrent PDFs, each starting Chromium and holding a connection, stalled the API for 9 s.
    Now at most CONCURRENT print and QUEUE wait: the rest get 503 + Retry-After before any PDF is done."""
    month = datetime.now(timezone.utc).strftime("%Y-%m")  # the running month: provisional, never cached
    async with (
        slamon_api(database_url, tmp_path, SLAMON_POOL_MAX="5") as base,
        httpx.AsyncClient(base_url=base, timeout=180, limits=httpx.Limits(max_connections=64)) as http,
    ):
        answered: list[httpx.Response] = []

        async def get_pdf() -> httpx.Response:
            response = await http.get(f"/api/sla/reports/face-compare/{month}.pdf?lang=en")
            answered.append(response)
            return response

        requests = [asyncio.create_task(get_pdf()) for _ in range(30)]
        while not answered:
            await asyncio.sleep(0.01)
        health = await http.get("/api/health")
        answered_before_health = len(answered)
        results = await asyncio.gather(*requests)
    assert health.status_code == 200
    statuses = [r.status_code for r in results]
    assert set(statuses) <= {200, 503}, statuses
    refused = [r for r in results if r.status_code == 503]
    assert len(refused) >= 30 - 2 * (pdf.CONCURRENT + pdf.QUEUE), statuses
    assert all(r.json()["error"] == "busy" and int(r.headers["retry-after"]) >= 1 for r in refused)
    assert statuses.count(200) >= 1
    first_pdf = next(i for i, r in enumerate(answered) if r.status_code == 200)
    assert answered.index(refused[0]) < first_pdf  # refused at once, not after waiting for a print
    assert answered_before_health < len(answered)  # health did not wait for the prints
