"""The customer's monthly statement over HTTP (admin only): JSON, CSV (UTF-8 with BOM), HTML and PDF
(pdftotext reads it back: figures, methods, page numbers, the organisation), frozen at month close and
revisable with a reason and an author (audited)."""

import csv
import io
import shutil
import subprocess
from datetime import timezone
from zoneinfo import ZoneInfo

import pytest

from app.customers.credits import parse_utc
from app.periods import month
from app.reports import service as reports
from tests.app.customers.test_credits import NOW, seed

MARCH = month(2025, 3, ZoneInfo("UTC"))
BASE = "/api/customers/acme/statements/2025-03"


@pytest.fixture
async def closed(staff, make_app, tmp_path):
    conn = staff.conn
    await conn.execute("TRUNCATE customer_target_overrides, customer_services, customers, customer_statements")
    await seed(conn, "UTC", "EUR", "12345.67")
    await reports.close_month(conn, MARCH, NOW, "UTC")
    logo = tmp_path / "logo.svg"
    logo.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    )
    app, client = make_app(organisation_name="Verify Platform Inc.", organisation_logo=logo)
    from app import deps

    app.dependency_overrides[deps.clock] = lambda: NOW
    staff.client, staff.app = client(), app
    yield staff
    await conn.execute("TRUNCATE customer_target_overrides, customer_services, customers, customer_statements")


async def test_only_admins_read_statements(closed):
    staff = closed
    assert (await staff.client.get(f"{BASE}.json")).status_code == 401
    r = await staff.client.get(f"{BASE}.json", headers=await staff.headers("viewer"))
    assert r.status_code == 403


async def test_json_is_the_frozen_statement_and_formats_agree(closed):
    staff = closed
    admin = await staff.headers("admin")
    r = await staff.client.get(f"{BASE}.json", headers=admin)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["statement"]["status"] == "final" and doc["statement"]["revision"] == 1
    assert doc["credits"]["totalPercent"] == 20 and doc["credits"]["amount"] == "2469.13"

    r = await staff.client.get(f"{BASE}.csv", headers=admin)
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith("\ufeff".encode())  # spreadsheet programs read it as UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "key", "metric", "value"]
    assert ["credits", "", "amount", "2469.13"] in rows and [
        "summary",
        "",
        "totalChecks",
        str(doc["summary"]["totalChecks"]),
    ] in rows

    r = await staff.client.get(f"{BASE}.html?lang=en", headers=admin)
    html = r.text
    assert r.status_code == 200 and "Monthly service statement" in html and "Verify Platform Inc." in html
    assert "data:image/svg+xml;base64," in html  # the logo, embedded
    assert "How these figures are computed" in html and "truncated (not rounded)" in html
    assert "SLA-MATH" not in html
    assert "2,469.13 EUR will be deducted from the invoice of 2025-04." in html
    assert f"{doc['summary']['availabilityPercent']:.2f}%" in html
    for section in doc["services"]:
        assert section["name"] in html and section["availability"]["totalDowntime"] in html
    assert "SLA-MATH" not in (await staff.client.get(f"{BASE}.html?lang=ko", headers=admin)).text


@pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("chromium") is None, reason="needs poppler and chromium"
)
async def test_pdf_has_figures_methods_and_page_numbers(closed, tmp_path):
    staff = closed
    admin = await staff.headers("admin")
    doc = (await staff.client.get(f"{BASE}.json", headers=admin)).json()
    for lang, heading, page in (
        ("en", "Monthly service statement", "Page 1 of"),
        ("ko", "월간 서비스 명세서", "페이지 1 /"),
    ):
        r = await staff.client.get(f"{BASE}.pdf?lang={lang}", headers=admin)
        assert r.status_code == 200, r.text
        assert r.content.startswith(b"%PDF-") and "statement-acme-2025-03-r1.pdf" in r.headers["content-disposition"]
        path = tmp_path / f"statement-{lang}.pdf"
        path.write_bytes(r.content)
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert heading in text and page in text and "Verify Platform Inc." in text
        assert "2,469.13 EUR" in text and f"{doc['summary']['availabilityPercent']:.2f}%" in text
        assert "SLA-MATH" not in text


async def test_a_revision_needs_a_reason_and_is_audited(closed):
    staff = closed
    admin = await staff.headers("admin")
    r = await staff.client.post(f"{BASE}/revisions", json={"reason": "   "}, headers=admin)
    assert r.status_code == 422
    # the contract changes (a fee corrected): revision 2 states the new amount, revision 1 stays
    await staff.conn.execute("UPDATE customers SET monthly_fee = 1000 WHERE id = 'acme'")
    r = await staff.client.post(f"{BASE}/revisions", json={"reason": "fee corrected"}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["revision"] == 2 and r.json()["author"] == "admin"
    latest = (await staff.client.get(f"{BASE}.json", headers=admin)).json()
    assert latest["statement"]["revision"] == 2 and latest["credits"]["amount"] == "200.00"
    first = (await staff.client.get(f"{BASE}.json?revision=1", headers=admin)).json()
    assert first["credits"]["amount"] == "2469.13"
    revisions = (await staff.client.get(f"{BASE}/revisions", headers=admin)).json()["revisions"]
    assert [(v["revision"], v["reason"]) for v in revisions] == [(1, ""), (2, "fee corrected")]
    assert parse_utc(revisions[1]["frozenAt"]).tzinfo == timezone.utc
    actions = await staff.conn.fetch(
        "SELECT action, actor_name FROM audit_log WHERE target_type = 'customer' AND target_id = 'acme/2025-03' "
        "ORDER BY id"
    )
    assert [(a["action"], a["actor_name"]) for a in actions] == [
        ("statement.closed", "month close"),
        ("statement.revised", "admin"),
    ]
    assert (await staff.client.get(f"{BASE}.json?revision=9", headers=admin)).status_code == 404


async def test_the_running_month_is_provisional_and_a_bad_month_names_the_parameter(closed):
    staff = closed
    admin = await staff.headers("admin")
    r = await staff.client.get("/api/customers/acme/statements/2025-04.json", headers=admin)
    assert r.status_code == 200 and r.json()["statement"]["status"] == "provisional"
    assert (
        await staff.client.post("/api/customers/acme/statements/2025-04/revisions", json={"reason": "x"}, headers=admin)
    ).status_code == 409
    r = await staff.client.get("/api/customers/acme/statements/2025-13.json", headers=admin)
    assert r.status_code == 422 and "month" in r.json()["message"]
    assert (await staff.client.get("/api/customers/acme/statements/2024-06.json", headers=admin)).status_code == 409
    assert (await staff.client.get("/api/customers/nobody/statements/2025-03.json", headers=admin)).status_code == 404


async def test_the_cli_writes_a_statement(closed, database_url, tmp_path):
    import asyncio

    from tests.app.reports.test_snapshots import slamon

    out = tmp_path / "statement.csv"
    run = lambda *a: asyncio.to_thread(slamon, database_url, *a, tmp_path=tmp_path)  # noqa: E731
    written = await run(
        "report", "statement", "--customer", "acme", "--month", "2025-03", "--format", "csv", "-o", str(out)
    )
    assert written.returncode == 0, written.stderr
    assert "csv" in written.stderr and "final revision 1" in written.stderr
    assert out.read_bytes().startswith("\ufeff".encode()) and "credits,,amount,2469.13" in out.read_text("utf-8-sig")
    unknown = await run("report", "statement", "--customer", "nobody", "--month", "2025-03")
    assert unknown.returncode == 2 and "nobody" in unknown.stderr
    bad = await run("report", "statement", "--customer", "acme", "--month", "2025-3")
    assert bad.returncode == 2 and "--month" in bad.stderr


async def test_the_worker_month_close_freezes_statements_once_after_the_reports(conn):
    from datetime import timedelta

    await conn.execute("TRUNCATE customer_target_overrides, customer_services, customers, customer_statements")
    await seed(conn, "UTC", "EUR", "100.00")
    grace = timedelta(hours=1)
    now = MARCH.end + grace
    utc = ZoneInfo("UTC")
    closed = await reports.close_due_months(conn, now, "UTC", utc, grace)
    assert {"id-recognition", "face-liveness", "curp-verifier"} <= set(closed["2025-03"])
    # the close catches up the last 3 ended months: the contract started in January
    rows = await conn.fetch("SELECT customer_id, month, revision FROM customer_statements ORDER BY month")
    assert [(r["customer_id"], r["month"].isoformat(), r["revision"]) for r in rows] == [
        ("acme", "2025-01-01", 1),
        ("acme", "2025-02-01", 1),
        ("acme", "2025-03-01", 1),
    ]
    frozen = await conn.fetchval("SELECT figures::text FROM customer_statements WHERE month = '2025-03-01'")
    await reports.close_due_months(conn, now + timedelta(days=2), "UTC", utc, grace)  # again: nothing new
    assert await conn.fetchval("SELECT count(*) FROM customer_statements") == 3
    assert await conn.fetchval("SELECT figures::text FROM customer_statements WHERE month = '2025-03-01'") == frozen
    assert '"report":{"status":"final","revision":1}' in frozen  # composed of the reports frozen just before
    await conn.execute("TRUNCATE customer_target_overrides, customer_services, customers, customer_statements")


def test_a_logo_that_is_not_an_image_file_is_refused_at_start(tmp_path):
    from pydantic import ValidationError

    from app.config import Settings

    text = tmp_path / "logo.txt"
    text.write_text("x")
    for bad in (text, tmp_path / "missing.png"):
        with pytest.raises(ValidationError, match="not a PNG, JPEG or SVG file"):
            Settings(organisation_logo=bad)
    png = tmp_path / "logo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert Settings(organisation_logo=png).organisation_logo == png


async def test_the_running_month_carries_the_slo_forecast_and_a_closed_month_none(closed):
    staff = closed
    admin = await staff.headers("admin")
    doc = (await staff.client.get("/api/customers/acme/statements/2025-04.json", headers=admin)).json()
    assert doc["version"] == 3
    forecast = doc["forecast"]
    assert forecast["asOf"] == "2025-04-20T00:00:00Z" and forecast["method"] == "bootstrap"
    assert [s["id"] for s in forecast["services"]] == [s["id"] for s in doc["services"]]
    for service in forecast["services"]:
        # the figures of GET /api/slo/{serviceId}/forecast at the same instant
        api = (await staff.client.get(f"/api/slo/{service['id']}/forecast")).json()
        assert len(service["slos"]) == len(api["slos"]) == 7
        for mine, theirs in zip(service["slos"], api["slos"]):
            assert mine["slo"] == theirs["slo"] and mine["missProbability"] == theirs["missProbability"]
            assert (mine["budget"], mine["consumed"], mine["remaining"]) == (
                theirs["budget"],
                theirs["consumed"],
                theirs["remaining"],
            )
            assert mine["exhaustsAtRecentBurn"] == theirs["recentBurn"]["exhaustsAt"]
    page = (await staff.client.get("/api/customers/acme/statements/2025-04.html?lang=en", headers=admin)).text
    assert "Forecast for the rest of the month" in page and "Chance to miss" in page

    march = (await staff.client.get(f"{BASE}.json", headers=admin)).json()
    assert march["statement"]["status"] == "final" and march["forecast"] is None  # frozen after the month
    page = (await staff.client.get(f"{BASE}.html?lang=en", headers=admin)).text
    assert "No forecast: a forecast is made for a running month only" in page
