"""The statement's formats, each rendered from the statement document alone: JSON (exact figures),
CSV (UTF-8 with a byte-order mark, so that spreadsheet programs read it as UTF-8; the long layout of
the per-service reports), HTML (a self-contained printable page) and PDF (that HTML printed by the
reports' Chromium, app/reports/pdf.py, with page numbers)."""

from __future__ import annotations

import base64
import mimetypes
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup

from app.contract import JsonObject
from app.reports import pdf
from app.reports.render import csv_text, json_text, palette, stylesheet
from app.web.i18n import DEFAULT_LANGUAGE, LANGUAGES
from app.web.templating import environment, translator

CSV_BOM = "\ufeff"
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
LOGO_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
STATEMENT_CSS = """
.organisation { display: flex; align-items: center; gap: 12px; margin-bottom: 0.5rem; }
.organisation .logo { max-height: 40px; max-width: 160px; }
.organisation-name { font-weight: 700; font-size: 1.1rem; }
.methods { font-size: 0.85rem; } .methods li { margin: 0.15rem 0; }
table.services td { white-space: nowrap; }
"""


@lru_cache
def strings(language: str) -> dict[str, str]:
    return translator(language if language in LANGUAGES else DEFAULT_LANGUAGE).subset("statements.")


def money(value: str | Decimal | None) -> str:
    """An amount as stated (its exact digits), grouped by thousands: '12,500.00'."""
    return "—" if value is None else f"{Decimal(value):,}"


def logo_data_uri(path: Path | None) -> str | None:
    """The organisation's logo embedded in the document (the PDF's browser fetches nothing)."""
    if path is None:
        return None
    kind = mimetypes.guess_type(path.name)[0]
    if kind not in LOGO_TYPES:
        raise ValueError(f"SLAMON_ORGANISATION_LOGO: {path} is not a PNG, JPEG or SVG file")
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def html(doc: JsonObject, language: str, organisation: str, logo: Path | None = None) -> str:
    env = environment()
    env.filters.setdefault("money", money)
    t = strings(language)
    return env.get_template("reports/statement.html").render(
        doc=doc,
        t=t,
        lang=language,
        zone=doc["period"]["timezone"],
        organisation=organisation,
        logo=logo_data_uri(logo),
        css=stylesheet() + Markup(STATEMENT_CSS),
    )


def page_footer(language: str, organisation: str, doc: JsonObject) -> str:
    """Chromium's footer template: organisation, statement and 'Page n of m' on every page."""
    from markupsafe import escape

    t = strings(language)
    label = escape(f"{organisation} · {doc['customer']['name']} · {doc['period']['label']}")
    return (
        '<div style="font-size:8px;width:100%;padding:0 12mm;display:flex;justify-content:space-between;'
        f'color:{palette()["muted"]}"><span>{label}</span><span>{escape(t["page"])} <span class="pageNumber"></span> '
        f'{escape(t["of"])} <span class="totalPages"></span></span></div>'
    )


def csv_bytes(doc: JsonObject) -> bytes:
    return (CSV_BOM + csv_text(doc)).encode()


def as_bytes(doc: JsonObject, fmt: str, language: str, organisation: str, logo: Path | None = None) -> bytes:
    """JSON, CSV or HTML (the PDF is printed apart: print_pdf)."""
    if fmt == "json":
        return json_text(doc).encode()
    if fmt == "csv":
        return csv_bytes(doc)
    if fmt == "html":
        return html(doc, language, organisation, logo).encode()
    raise ValueError(f"unknown format {fmt!r}")


async def print_pdf(
    doc: JsonObject, language: str, organisation: str, logo: Path | None, chromium: str | None
) -> bytes:
    printer = pdf.printer(chromium)
    with printer.admission():
        return await printer.print(
            html(doc, language, organisation, logo), footer=page_footer(language, organisation, doc)
        )


def file_name(doc: JsonObject, fmt: str) -> str:
    meta = doc["statement"]
    suffix = f"r{meta['revision']}" if meta["revision"] else meta["status"]  # provisional | computed
    return f"statement-{meta['customerId']}-{meta['month']}-{suffix}.{fmt}"
