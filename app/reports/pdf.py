"""PDF: the report's HTML printed by headless Debian Chromium, the browser the browser tests use, so
the PDF and the page cannot drift apart (docs/api.md explains the choice over WeasyPrint).

One long-lived browser per process and Chromium path (driven by Playwright), started on the first
PDF and started again if it died; at most CONCURRENT pages print at once, at most QUEUE more wait,
and a request beyond that is refused at once (`PdfBusy`, a 503): 30 PDF requests, each starting its
own Chromium, once stalled the API for 9 s. Every page has JavaScript off and every network request
refused: the report is one self-contained document."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

PRINT_TIMEOUT_S = 60
CONCURRENT = 2  # pages printing at once (~a core each while they print)
QUEUE = 4  # requests that may wait for a page; more are refused
LAUNCH_ARGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--no-sandbox",
]


class PdfUnavailable(RuntimeError):
    """Chromium is missing or failed; the message says which and what to do."""


class PdfBusy(RuntimeError):
    """Every print slot and queue place is taken; try again shortly."""

    retry_after_s = 5


def chromium_path(configured: str | None) -> str:
    for candidate in (configured, "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise PdfUnavailable(
        "PDF rendering needs Chromium: install Debian's 'chromium' package "
        "(scripts/system-deps.sh) or set SLAMON_CHROMIUM_PATH"
    )


class Printer:
    """A browser kept open for one event loop, its print slots and its bounded queue."""

    def __init__(self, binary: str):
        self.binary = binary
        self.in_flight = 0  # printing or waiting
        self.launches = 0  # browsers started, and PDFs printed: the tests read them
        self.printed = 0
        self._pages = asyncio.Semaphore(CONCURRENT)
        self._starting = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    @contextmanager
    def admission(self) -> Iterator[None]:
        """A place in the queue, or PdfBusy at once."""
        if self.in_flight >= CONCURRENT + QUEUE:
            raise PdfBusy(f"{CONCURRENT} PDFs are printing and {QUEUE} waiting; try again in a few seconds")
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def _browser_ready(self) -> Browser:
        async with self._starting:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            from playwright.async_api import Error, async_playwright

            if self._playwright is None:
                self._playwright = await async_playwright().start()
            try:
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.binary, headless=True, args=LAUNCH_ARGS, timeout=PRINT_TIMEOUT_S * 1000
                )
            except Error as exc:
                raise PdfUnavailable(f"Chromium ({self.binary}) did not start: {str(exc).splitlines()[0]}") from None
            self.launches += 1
            return self._browser

    async def print(self, html: str, footer: str | None = None) -> bytes:
        """One self-contained HTML document as PDF (the @page size of its CSS); `footer`, a Chromium footer
        template (page numbers: <span class="pageNumber">), printed in the bottom margin of every page."""
        from playwright.async_api import Error

        async with self._pages:
            browser = await self._browser_ready()
            try:
                context = await browser.new_context(java_script_enabled=False)
            except Error as exc:
                raise PdfUnavailable(f"Chromium failed: {str(exc).splitlines()[0]}") from None
            try:
                await context.route("**/*", lambda route: route.abort())
                page = await context.new_page()
                page.set_default_timeout(PRINT_TIMEOUT_S * 1000)
                await page.set_content(html, wait_until="load")
                if footer:
                    body = await page.pdf(
                        prefer_css_page_size=True,
                        print_background=True,
                        display_header_footer=True,
                        header_template="<span></span>",
                        footer_template=footer,
                    )
                else:
                    body = await page.pdf(prefer_css_page_size=True, print_background=True)
                self.printed += 1
                return body
            except Error as exc:
                raise PdfUnavailable(f"Chromium did not print the report: {str(exc).splitlines()[0]}") from None
            finally:
                await context.close()

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = self._playwright = None


_printers: dict[tuple[asyncio.AbstractEventLoop, str], Printer] = {}


def printer(chromium: str | None = None) -> Printer:
    """The running loop's printer for this Chromium (Playwright objects belong to one loop)."""
    key = (asyncio.get_running_loop(), chromium_path(chromium))
    if key not in _printers:
        _printers[key] = Printer(key[1])
    return _printers[key]


async def html_to_pdf(html: str, chromium: str | None = None) -> bytes:
    """Print now, waiting for a page if need be (the queue bound applies to `Printer.admission`)."""
    return await printer(chromium).print(html)


async def shutdown() -> None:
    """Close the running loop's browsers (API shutdown, end of a CLI command)."""
    loop = asyncio.get_running_loop()
    for key in [k for k in _printers if k[0] is loop]:
        await _printers.pop(key).close()


@lru_cache(maxsize=1)
def renderer_version() -> str:
    """Changes with the report's templates, styles, wording and drawing code: a PDF cached by another
    version is not served."""
    from app.reports import render

    sources = render.sources()
    digest = hashlib.sha256()
    for path in sorted(sources):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
