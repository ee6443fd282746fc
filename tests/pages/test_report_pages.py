"""The analyst's /reports page and the planner's /trends page in the real browser: axe-core finds no
serious or critical problem, in Korean and English, narrow and wide; the trends charts are drawn by
uPlot under the page's Content-Security-Policy (a CSP violation is a console error, which fails the
test), with the forecast set apart and a keyboard read-out; screenshots kept."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from app import deps
from app.ingest.service import write_api_calls
from tests.app.reports.test_figures import NOW, SID, ZONE, august  # noqa: F401
from tests.app.trends import test_capacity as capacity
from tests.pages.conftest import assert_accessible, screenshots

CHARTS = ("calls", "error-rate", "p95", "daily-calls")
# Pixels each chart's canvas has painted (alpha > 0): a blank canvas has none.
PAINTED = """() => [...document.querySelectorAll('.trend-chart canvas')].map((canvas) => {
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) painted += 1;
    return painted;
})"""


def pinned_clock(app):
    app.dependency_overrides[deps.clock] = lambda: NOW  # 2025-09-20: July and August complete, a forecast


async def test_report_page_is_accessible(august, live_server, new_page):
    async with live_server("status", timezone=ZONE) as base:
        for lang, width in (("ko", 375), ("en", 1280)):
            page = await new_page(width=width)
            await page.goto(f"{base}/reports?service={SID}&month=2025-08&lang={lang}")
            assert await page.get_attribute("html", "lang") == lang
            assert await page.locator("svg.chart").count() == 3
            await assert_accessible(page)
            await screenshots(page, f"reports-page-{lang}")


async def test_trend_charts_are_drawn_with_the_forecast_set_apart(august, live_server, new_page):
    async with live_server("status", setup=pinned_clock, timezone=ZONE) as base:
        for lang, width, forecast in (("ko", 375, "예측"), ("en", 1280, "Forecast")):
            page = await new_page(width=width)
            await page.goto(f"{base}/trends/{SID}?months=6&lang={lang}")
            await expect(page.locator(".trend-chart .uplot")).to_have_count(len(CHARTS))
            assert all(painted > 500 for painted in await page.evaluate(PAINTED))
            for chart in CHARTS:
                canvas = page.locator(f"#chart-{chart} canvas")
                caption = await page.locator(f"#chart-{chart}-caption").text_content()
                assert await canvas.get_attribute("role") == "img"
                assert await canvas.get_attribute("aria-label") == caption
                assert await canvas.get_attribute("aria-describedby") == f"chart-{chart}-description"
            # the forecast is its own series in the legend, dashed and lighter than the calls
            legend = page.locator("#chart-calls .u-legend .u-series")
            await expect(legend.nth(2)).to_contain_text(forecast)
            calls_marker, forecast_marker = legend.nth(1).locator(".u-marker"), legend.nth(2).locator(".u-marker")
            assert await forecast_marker.evaluate("m => getComputedStyle(m).borderStyle") == "dashed"
            assert await calls_marker.evaluate("m => getComputedStyle(m).borderStyle") == "solid"
            api = await (await page.request.get(f"{base}/api/usage/trends/{SID}?months=6")).json()
            last = api["forecast"]["months"][-1]
            # keyboard: focus the chart, End reads the last month out (a forecast month)
            await page.locator("#chart-calls").focus()
            await page.keyboard.press("End")
            readout = page.locator("#chart-calls-readout")
            await expect(readout).to_contain_text(f"{last['month']}, {forecast} {last['calls']:,}")
            await page.keyboard.press("Home")
            await expect(readout).to_contain_text(api["monthly"][0]["month"])
            await assert_accessible(page)
            await screenshots(page, f"trends-page-{lang}")


async def test_the_trends_page_shows_its_figures_without_javascript(august, live_server, new_page):
    async with live_server("status", setup=pinned_clock, timezone=ZONE) as base:
        page = await new_page(width=1280, java_script_enabled=False)
        await page.goto(f"{base}/trends/{SID}?months=6&lang=en")
        assert await page.locator("figure.trend:visible").count() == 0  # no empty chart boxes
        await expect(page.get_by_role("row", name=re.compile(r"^2025-12 \(forecast\) [\d,]+"))).to_be_visible()
        await expect(page.get_by_role("row", name=re.compile(r"^2025-08 [\d,]+ "))).to_be_visible()
        # (axe needs JavaScript: the same page with it is checked above)


async def test_the_downloaded_html_report_renders_styled_under_the_security_policy(august, live_server, new_page):
    async with live_server("status", timezone=ZONE) as base:
        page = await new_page(width=1280)
        await page.goto(f"{base}/api/sla/reports/{SID}/2025-08.html?lang=en")
        # its inline stylesheet applies (a refused one would leave the body's default 8 px margin)
        assert await page.evaluate("getComputedStyle(document.body).margin") != "8px"
        await assert_accessible(page)


async def test_the_trends_page_shows_the_days_until_the_daily_quota(conn, live_server, new_page):
    """A Developer service growing by 20 calls a day (tests/app/trends/test_capacity.py): the capacity
    table states the known day, the daily chart draws the quota as a dashed line, the daily table has
    each day's share of the quota."""
    first = capacity.TODAY - timedelta(days=28)
    counts = {first + timedelta(days=i): 100 + 20 * i for i in range(28)}
    await write_api_calls(conn, capacity.per_day(ZoneInfo(capacity.NY), counts), now=capacity.NOW)

    def clock(app):
        app.dependency_overrides[deps.clock] = lambda: capacity.NOW

    async with live_server("status", setup=clock, timezone=capacity.NY) as base:
        for lang, width, until, quota in (
            ("en", 1280, "17 days (on 2025-04-06)", "Daily quota"),
            ("ko", 375, "17일 (2025-04-06)", "일일 한도"),
        ):
            page = await new_page(width=width)
            await page.goto(f"{base}/trends/{capacity.SID}?months=3&lang={lang}")
            await expect(page.locator("#capacity tr").first).to_contain_text(until)
            await expect(page.locator("#chart-daily-calls .uplot")).to_have_count(1)
            legend = page.locator("#chart-daily-calls .u-legend .u-series")
            await expect(legend.nth(2)).to_contain_text(quota)
            assert await legend.nth(2).locator(".u-marker").evaluate("m => getComputedStyle(m).borderStyle") == "dashed"
            description = await page.locator("#chart-daily-calls-description").text_content()
            assert "1,000" in description
            await page.locator("#h-daily-trend ~ details summary").click()
            yesterday = page.get_by_role("row", name=re.compile(r"^2025-03-19 640 64\.00%"))
            await expect(yesterday).to_be_visible()
            await assert_accessible(page)
            await screenshots(page, f"trends-capacity-{lang}")
