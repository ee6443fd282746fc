"""Browser-test fixtures for the pages (status page, incident console).

- `live_server(site, **settings_overrides)`: the real app of a site (pages + API + Socket.IO, lifespan
  and all) served by uvicorn on a free loopback port in this event loop, against the session's test
  database and this checkout's Redis; yields its base URL.
- `browser`: Debian's Chromium (/usr/bin/chromium, or SLAMON_CHROMIUM) driven by Playwright for
  Python. Browsers are never downloaded (no `playwright install`).
- `new_page(width=1280, **context_options)`: a page in a fresh context; console errors, page errors
  and Content-Security-Policy violations fail the test at teardown.
- `axe_violations(page)` / `assert_accessible(page)`: axe-core in the page; serious or critical
  violations fail.
- `screenshots(page, name)`: full-page PNGs at 375 px and 1280 px in test-artifacts/ (gitignored).
- Translations are strict here: a missing key raises while a page renders.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from playwright.async_api import async_playwright

from app.web import i18n
from tests.conftest import free_port  # noqa: F401 (the page tests import it from here)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE_SCRIPT = ROOT / "frontend" / "testing" / "axe-core-4.14.1.min.js"
CHROMIUM = os.environ.get("SLAMON_CHROMIUM", "/usr/bin/chromium")
SCREENSHOT_WIDTHS = (375, 1280)
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(autouse=True)
def strict_translations():
    previous, i18n.strict = i18n.strict, True
    yield
    i18n.strict = previous


@pytest.fixture
def live_server(settings, open_pages):
    """Factory: `async with live_server("status") as base_url: ...`; `setup(app)` may add routes first.
    The test's browser pages are closed before the server stops: a page left open would see the server go
    away, and its Socket.IO reconnect's "connection refused" would be reported as a page error or not,
    depending on how soon the test's teardown closed it."""
    import uvicorn

    from app.main import create_app

    @asynccontextmanager
    async def serve(site: str = "api", setup=None, **overrides):
        app = create_app(settings.model_copy(update=overrides), site=site)
        if setup is not None:
            setup(app)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()  # raises what stopped the server
            await asyncio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{server.config.port}"
        finally:
            await open_pages.close_all()
            server.should_exit = True
            await task

    return serve


@pytest.fixture(scope="session")
async def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/system-deps.sh (or set SLAMON_CHROMIUM)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        await browser.close()


class PageProblems:
    """What went wrong in a page: console errors, uncaught exceptions, CSP violations."""

    def __init__(self, page):
        self.messages: list[str] = []
        page.on(
            "console",
            lambda m: (
                self.messages.append(f"console.{m.type}: {m.text} ({m.location.get('url')})")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: self.messages.append(f"uncaught: {e}"))

    def allow(self, fragment: str) -> None:
        """Forget the expected errors containing `fragment` (e.g. a failed reconnect while Redis is down)."""
        self.messages = [m for m in self.messages if fragment not in m]


class OpenPages:
    """The browser contexts a test has open; closed at its end, or earlier when a live server stops."""

    def __init__(self):
        self.contexts: list = []

    async def close_all(self) -> None:
        while self.contexts:
            await self.contexts.pop().close()


@pytest.fixture
def open_pages() -> OpenPages:
    return OpenPages()


@pytest.fixture
async def new_page(browser, open_pages):
    """Factory: `page = await new_page(width=375, locale="en-US")`."""
    watchers = []

    async def make(width: int = 1280, height: int = 900, **options):
        context = await browser.new_context(viewport={"width": width, "height": height}, **options)
        open_pages.contexts.append(context)
        page = await context.new_page()
        page.problems = PageProblems(page)
        watchers.append(page.problems)
        return page

    yield make
    await open_pages.close_all()
    problems = [m for w in watchers for m in w.messages]
    assert problems == [], "the page reported errors:\n" + "\n".join(problems)


async def axe_violations(page, impacts=BLOCKING_IMPACTS) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations of the page as it is now, at the given impacts."""
    # page.evaluate is not subject to the page's CSP, so axe runs without weakening it.
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;void 0")
    results = await page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                                             "best-practice"]},
                                           resultTypes: ["violations"]});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary)}));
    }""")
    return [v for v in results if v["impact"] in impacts]


async def assert_accessible(page) -> None:
    violations = await axe_violations(page)
    assert violations == [], "axe-core: serious/critical violations:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in violations
    )


async def screenshots(page, name: str) -> list[Path]:
    """Full-page screenshots at 375 and 1280 px wide: test-artifacts/<name>-<width>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    original = page.viewport_size
    paths = []
    for width in SCREENSHOT_WIDTHS:
        await page.set_viewport_size({"width": width, "height": 800})
        path = ARTIFACTS / f"{name}-{width}.png"
        await page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    await page.set_viewport_size(original)
    return paths
