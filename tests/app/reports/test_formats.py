"""Each report format from one frozen month: JSON exact, CSV in its documented long layout, HTML a
printable accessible document with three inline SVG charts, PDF printed by Chromium holding the same
figures (read back with pdftotext). Bad requests name the parameter."""

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from app.reports import service as reports
from tests.app.reports.test_figures import AUGUST, NOW, SID, ZONE, august  # noqa: F401

ARTIFACTS = Path(__file__).resolve().parents[3] / ".data" / "test-artifacts"


@pytest.fixture
async def client(conn, august, make_client):
    await reports.close_month(conn, AUGUST, NOW, ZONE)
    return await make_client(now=NOW, timezone=ZONE)


async def test_csv_long_layout_holds_every_json_figure(client):
    doc = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    response = await client.get(f"/api/sla/reports/{SID}/2025-08.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["section", "key", "metric", "value"]
    cell = {(s, k, m): v for s, k, m, v in rows[1:]}
    assert len(cell) == len(rows) - 1  # (section, key, metric) identifies a row
    a = doc["availability"]
    assert cell[("availability", "", "uptimePercentage")] == str(a["uptimePercentage"])
    assert cell[("availability", "", "totalChecks")] == str(a["totalChecks"])
    assert cell[("responseTimes", "", "slowRequests300.count")] == str(doc["responseTimes"]["slowRequests300"]["count"])
    assert cell[("responseTimes", "", "percentiles.p95")] == str(doc["responseTimes"]["percentiles"]["p95"])
    day = a["daily"][14]
    assert cell[("availability.daily", day["date"], "status")] == day["status"]
    usage_day = doc["usage"]["dailyStats"][3]
    assert cell[("usage.dailyStats", usage_day["date"], "errors")] == str(usage_day["errors"])
    incident = doc["incidents"]["incidents"][0]
    assert cell[("incidents.incidents", incident["id"], "priority")] == incident["priority"]
    assert cell[("slo.objectives", "availability", "met")] == (
        "true" if doc["slo"]["objectives"][0]["met"] else "false"
    )
    assert cell[("credits", "", "totalPercent")] == str(doc["credits"]["totalPercent"])
    assert cell[("report", "", "revision")] == "1" and cell[("report", "", "status")] == "final"


async def test_html_is_a_printable_accessible_document_with_charts(client):
    ko = await client.get(f"/api/sla/reports/{SID}/2025-08.html")
    assert ko.headers["content-type"].startswith("text/html") and ko.headers["content-language"] == "ko"
    html = ko.text
    assert '<html lang="ko">' in html and "월간 SLA 리포트" in html and "<script" not in html
    for chart in ("chart-availability", "chart-latency", "chart-usage"):
        assert f'<svg class="chart" id="{chart}" role="img" aria-labelledby="{chart}-t {chart}-d"' in html
    assert html.count("<th scope=") > 40 and "@page" in html
    doc = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    assert f"{doc['availability']['uptimePercentage']:.2f}%" in html and doc["availability"]["totalDowntime"] in html
    en = await client.get(f"/api/sla/reports/{SID}/2025-08.html", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert '<html lang="en">' in en.text and "Monthly SLA report" in en.text
    assert (
        await client.get(f"/api/sla/reports/{SID}/2025-08.html?lang=ko", headers={"Accept-Language": "en"})
    ).headers["content-language"] == "ko"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (scripts/system-deps.sh) not installed")
async def test_pdf_is_a_pdf_holding_the_figures(client):
    doc = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    for lang, heading in (("en", "Monthly SLA report"), ("ko", "월간 SLA 리포트")):
        response = await client.get(f"/api/sla/reports/{SID}/2025-08.pdf?lang={lang}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF-")
        assert f"sla-report-{SID}-2025-08-r1.pdf" in response.headers["content-disposition"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"report-{lang}.pdf"
        path.write_bytes(response.content)
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert heading in text
        a, rt, u = doc["availability"], doc["responseTimes"], doc["usage"]
        for figure in (
            f"{a['uptimePercentage']:.2f}%",
            a["totalDowntime"],
            f"{a['totalChecks']:,}",
            f"{rt['totalRequests']:,}",
            f"{rt['slowRequests300']['count']:,}",
            f"{u['totalCalls']:,}",
            f"{u['errorRate']:.2f}%",
            f"{doc['credits']['totalPercent']}%",
        ):
            assert figure in text, (lang, figure)


async def test_pdf_without_chromium_is_a_clear_503(client, make_client):
    broken = await make_client(now=NOW, timezone=ZONE, chromium_path="/nonexistent/chromium")
    response = await broken.get(f"/api/sla/reports/{SID}/2025-08.pdf")
    if shutil.which("chromium"):  # the configured path is missing, the fallback finds Debian's
        assert response.status_code == 200
    else:
        assert response.status_code == 503 and response.json()["error"] == "pdf_unavailable"


@pytest.mark.parametrize(
    "path, status, names",
    [
        ("/api/sla/reports/nope/2025-08.json", 404, "nope"),
        ("/api/sla/reports/face-compare/2025-13.json", 422, "month"),
        ("/api/sla/reports/face-compare/25-08.json", 422, "month"),
        ("/api/sla/reports/face-compare/2025-10.json", 422, "month"),  # future at NOW (2025-09-20)
        ("/api/sla/reports/face-compare/2025-08.xlsx", 422, "fmt"),
        ("/api/sla/reports/face-compare/2025-08.json?revision=0", 422, "revision"),
        ("/api/sla/reports/face-compare/2025-13/revisions", 422, "month"),
    ],
)
async def test_bad_report_requests_name_the_parameter(make_client, path, status, names):
    client = await make_client(now=NOW)
    response = await client.get(path)
    assert response.status_code == status, response.text
    body = response.json()
    assert names in body["message"] or any(names == d.get("field") for d in body.get("details", []))
