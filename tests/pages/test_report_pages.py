"""The analyst's /reports page and the planner's /trends page in the real browser: axe-core finds no
serious or critical problem, in Korean and English, narrow and wide; screenshots kept."""
from tests.app.reports.test_figures import SID, ZONE, august  # noqa: F401
from tests.pages.conftest import assert_accessible, screenshots


async def test_report_and_trend_pages_are_accessible(august, live_server, new_page):
    async with live_server("status", timezone=ZONE) as base:
        for lang, width in (("ko", 375), ("en", 1280)):
            page = await new_page(width=width)
            await page.goto(f"{base}/reports?service={SID}&month=2025-08&lang={lang}")
            assert await page.get_attribute("html", "lang") == lang
            assert await page.locator("svg.chart").count() == 3
            await assert_accessible(page)
            await screenshots(page, f"reports-page-{lang}")
            await page.goto(f"{base}/trends/{SID}?months=24&lang={lang}")
            assert await page.locator("svg").count() >= 1
            await assert_accessible(page)
            await screenshots(page, f"trends-page-{lang}")


async def test_the_downloaded_html_report_renders_styled_under_the_security_policy(august, live_server, new_page):
    async with live_server("status", timezone=ZONE) as base:
        page = await new_page(width=1280)
        await page.goto(f"{base}/api/sla/reports/{SID}/2025-08.html?lang=en")
        # its inline stylesheet applies (a refused one would leave the body's default 8 px margin)
        assert await page.evaluate("getComputedStyle(document.body).margin") != "8px"
        await assert_accessible(page)
