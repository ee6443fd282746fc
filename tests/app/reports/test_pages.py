"""The analyst's /reports page and the planner's /trends page: served by the app, Korean by default and
English on request, labelled form controls, the report and its downloads, charts as inline SVG, and
bad parameters answered with a page that says what is wrong."""

import json
import re

import pytest

from app.web.i18n import LANGUAGES, load_catalogs, negotiate
from app.web.templating import I18N_DIR
from tests.app.reports.test_figures import NOW, SID, ZONE, august  # noqa: F401
from tests.app.reports.test_formats import ARTIFACTS


def keep(name: str, html: str) -> None:
    """Pages are kept as test artifacts (open them in a browser to look)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(html)


def test_every_string_exists_in_every_language():
    catalogs = load_catalogs(I18N_DIR)
    ko, en = ({key for key in catalogs[lang] if key.startswith("reports.")} for lang in LANGUAGES)
    assert ko and ko == en


@pytest.mark.parametrize(
    "lang, header, expected",
    [
        (None, None, "ko"),
        ("en", None, "en"),
        ("EN", "ko", "en"),
        ("fr", "en-GB,en;q=0.9", "en"),
        (None, "fr, en;q=0.5, ko;q=0.8", "ko"),
        (None, "de, fr", "ko"),
        (None, "en;q=abc", "ko"),
    ],
)
def test_language_choice(lang, header, expected):
    """The report API and pages negotiate as the sites do (no cookie): one function."""
    assert negotiate(lang, None, header) == expected


# Where the two negotiations of old (the pages' and the reports') answered differently, and the RFC 9110
# reading both entry points now share: a malformed weight leaves its range out (the reports read it as 0
# and still served English), a weight above 1, NaN, or with four decimals is malformed (the pages took
# them through float()), and q=0 refuses a language (never served while another is acceptable).
DISAGREED = [
    ("en;q=abc", "ko"),
    ("en;q=abc, ko;q=0.5", "ko"),
    ("en;q=1.5, ko;q=0.1", "ko"),
    ("en;q=nan, ko;q=0.1", "ko"),
    ("en;q=0.0001, ko;q=0.001", "ko"),
    ("ko;q=0", "en"),
    ("ko;q=0, en;q=0.1", "en"),
    ("EN-gb;Q=0.9, ko;q=0.5", "en"),
]


@pytest.mark.parametrize("header, expected", DISAGREED)
def test_the_cases_the_old_negotiations_disagreed_on(header, expected):
    assert negotiate(None, None, header) == expected


async def test_pages_and_the_report_api_negotiate_alike(conn, august, make_client):
    """One negotiation: the /reports page (like the status page and the console) and the report API answer
    each header above in the same language; `?lang=` overrides it on both (and the page keeps it in the
    `lang` cookie, which then comes before the header, as on every page)."""
    client = await make_client(now=NOW, timezone=ZONE)
    for header, expected in [*DISAGREED[:2], *DISAGREED[-3:]]:
        headers = {"Accept-Language": header}
        page = await client.get(f"/reports?service={SID}&month=2025-08", headers=headers)
        api = await client.get(f"/api/sla/reports/{SID}/2025-08.html", headers=headers)
        assert (page.headers["content-language"], api.headers["content-language"]) == (expected, expected), header
        other = "en" if expected == "ko" else "ko"
        page = await client.get(f"/reports?service={SID}&month=2025-08&lang={other}", headers=headers)
        api = await client.get(f"/api/sla/reports/{SID}/2025-08.html?lang={other}", headers=headers)
        assert (page.headers["content-language"], api.headers["content-language"]) == (other, other), header
        client.cookies.clear()  # the page remembered ?lang= in its cookie (pages only: the API reads none)


async def test_reports_page_shows_the_report_and_downloads(conn, august, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    response = await client.get(f"/reports?service={SID}&month=2025-08")
    assert response.status_code == 200 and response.headers["content-language"] == "ko"
    html = response.text
    keep("reports-page.html", html)
    assert '<html lang="ko">' in html and "SLA 리포트" in html and "<script" not in html
    for control in ("service", "month", "lang"):
        assert f'<label for="{control}">' in html and f'id="{control}"' in html
    for fmt in ("pdf", "csv", "json"):
        assert f'href="/api/sla/reports/{SID}/2025-08.{fmt}?lang=ko" download' in html
    assert html.count('<svg class="chart"') == 3 and "잠정" in html  # not closed: provisional
    en = await client.get(f"/reports?service={SID}&month=2025-08", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in en.text and "Monthly SLA report" in en.text
    # the switch back (the base layout's, as on every page) keeps the query
    assert re.search(rf'href="/reports\?service={SID}&amp;month=2025-08&amp;lang=ko"', en.text)


async def test_reports_page_defaults_and_errors(conn, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    default = await client.get("/reports?lang=en")
    assert default.status_code == 200 and 'value="2025-08"' in default.text  # last month by default
    for query, status, name in (
        ("service=nope", 404, "nope"),
        ("month=2025-13", 422, "month"),
        ("month=2030-01", 422, "month"),
    ):
        response = await client.get(f"/reports?{query}&lang=en")
        assert response.status_code == status and 'role="alert"' in response.text and name in response.text


async def test_trends_page(conn, august, make_client):
    client = await make_client(now=NOW, timezone=ZONE)
    response = await client.get(f"/trends/{SID}?months=3")
    assert response.status_code == 200 and "사용량 추이" in response.text
    html = response.text
    keep("trends-page.html", html)
    assert '<label for="months">' in html and "<svg" not in html  # charts are drawn in the browser (uPlot)
    for chart in ("calls", "error-rate", "p95", "daily-calls"):
        assert f'id="chart-{chart}" data-chart="{chart}" tabindex="0"' in html
        assert f'aria-describedby="chart-{chart}-description"' in html and f'id="chart-{chart}-description"' in html
    assert re.search(r'<script defer src="/static/vendor/uplot-1\.6\.32/uPlot\.iife\.min\.js\?v=[0-9a-f]{12}">', html)
    assert re.search(r'<script type="module" src="/static/reports/trends\.js\?v=[0-9a-f]{12}">', html)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == ['<script type="application/json" id="trends-data">']
    data = json.loads(re.search(r'id="trends-data">(.*?)</script>', html, re.S).group(1))
    api = (await client.get(f"/api/usage/trends/{SID}?months=3")).json()
    assert data["trends"] == api and data["texts"]["forecast"] == "예측"  # the chart draws what the API answers
    assert [f["month"] for f in api["forecast"]["months"]] == ["2025-09", "2025-10", "2025-11", "2025-12"]
    assert "2025-10 (예측)" in html and "2025-08" in html and "least-squares" in html  # and the table, without JS
    assert html.count('<tr><th scope="row">2025-') == 3 + len(api["daily"])  # 3 months, then every day
    assert (await client.get("/trends/nope")).status_code == 404
    bad = await client.get(f"/trends/{SID}?months=40&lang=en")
    assert bad.status_code == 422 and "months" in bad.text
