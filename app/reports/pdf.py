"""PDF: the report's HTML printed by headless Debian Chromium (`--print-to-pdf`). The browser the
browser tests already use renders the very same HTML, CSS and inline SVG, so the PDF and the page
cannot drift apart (README explains the choice over WeasyPrint)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

PRINT_TIMEOUT_S = 60
# Each render is a browser process (~150 MB, most of a core for a second): two at a time at most
# per event loop (a semaphore belongs to one loop).
CONCURRENT_RENDERS = 2
_renders: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


class PdfUnavailable(RuntimeError):
    """Chromium is missing or failed; the message says which and what to do."""


def chromium_path(configured: str | None) -> str:
    for candidate in (configured, "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise PdfUnavailable(
        "PDF rendering needs Chromium: install Debian's 'chromium' package "
        "(scripts/system-deps.sh) or set SLAMON_CHROMIUM_PATH"
    )


async def html_to_pdf(html: str, chromium: str | None = None) -> bytes:
    """Print one self-contained HTML document (A4, no header or footer) and return the PDF bytes."""
    binary = chromium_path(chromium)
    loop = asyncio.get_running_loop()
    async with _renders.setdefault(loop, asyncio.Semaphore(CONCURRENT_RENDERS)):
        with tempfile.TemporaryDirectory(prefix="slamon-pdf-") as workdir:
            work = Path(workdir)
            source, target = work / "report.html", work / "report.pdf"
            source.write_text(html, encoding="utf-8")
            process = await asyncio.create_subprocess_exec(
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--mute-audio",
                "--hide-scrollbars",
                f"--user-data-dir={work / 'profile'}",
                "--no-pdf-header-footer",
                "--run-all-compositor-stages-before-draw",
                f"--print-to-pdf={target}",
                source.as_uri(),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                _, stderr = await asyncio.wait_for(process.communicate(), PRINT_TIMEOUT_S)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
                raise PdfUnavailable(f"Chromium did not print the report within {PRINT_TIMEOUT_S} s") from None
            if not target.exists() or target.stat().st_size == 0:
                tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
                raise PdfUnavailable(f"Chromium exited with {process.returncode} without a PDF: {' | '.join(tail)}")
            return target.read_bytes()
