"""/docs and /redoc: vendored Swagger UI and ReDoc, under a Content-Security-Policy, working with no
other origin reachable; only on the API site."""

import pytest

from app.web import docs


async def _open(new_page, url: str):
    """The page, its response, and every URL it loaded (requests the policy refused never load)."""
    page = await new_page()
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    response = await page.goto(url)
    return page, response, loaded


def _same_origin(base: str, urls: list[str]) -> bool:
    return all(url.startswith((base + "/", "blob:" + base + "/")) for url in urls)


async def test_swagger_ui_is_served_from_this_origin_under_the_policy(live_server, new_page):
    async with live_server("api") as base:
        page, response, requested = await _open(new_page, f"{base}/docs")
        assert response.status == 200
        assert response.headers["content-security-policy"] == docs.DOCS_POLICY
        assert "script-src 'self';" in docs.DOCS_POLICY and "unsafe-eval" not in docs.DOCS_POLICY
        await page.wait_for_selector(".opblock", timeout=60_000)
        assert await page.locator(".opblock").count() > 20  # the operations of the schema
        assert "SLA Monitor" in await page.locator(".info .title").first.inner_text()
        assert _same_origin(base, requested), requested
        assert any(docs.SWAGGER_UI in url for url in requested)


async def test_redoc_is_served_from_this_origin_under_the_policy(live_server, new_page):
    async with live_server("api") as base:
        page, response, requested = await _open(new_page, f"{base}/redoc")
        assert response.status == 200
        assert response.headers["content-security-policy"] == docs.DOCS_POLICY
        await page.wait_for_selector("h1", timeout=60_000)
        assert "SLA Monitor" in await page.locator("h1").first.inner_text()
        assert await page.locator("[data-section-id^='tag/']").count() > 3  # the API's tags, rendered
        await page.wait_for_selector("a[href='https://redocly.com/redoc/']", timeout=60_000)
        assert _same_origin(base, requested), requested
        assert any(docs.REDOC in url for url in requested)
        # ReDoc's sidebar always asks for Redocly's logo from its CDN: the policy refuses it (the
        # browser reports that), ReDoc hides the image, and nothing leaves this origin.
        page.problems.allow("cdn.redoc.ly/redoc/logo-mini.svg")


@pytest.mark.parametrize("site", ["status", "console"])
async def test_the_page_sites_have_no_interactive_docs(live_server, site):
    import httpx

    async with live_server(site) as base, httpx.AsyncClient(base_url=base) as http:
        for path in ("/docs", "/redoc"):
            response = await http.get(path)  # the console sends strangers to its sign-in page
            assert response.status_code in (303, 404) and "swagger" not in response.text.lower(), (site, path)
