"""The report formats, each rendered from the report document alone (snapshot figures + revision
metadata): JSON (exact figures), CSV (one long layout), HTML (printable, inline SVG charts). The PDF
is this HTML printed by Chromium (app/reports/pdf.py)."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from app.contract import JsonObject
from app.reports import charts, pdf
from app.web import templating
from app.web.i18n import Translator
from app.web.templating import FRONTEND_DIR, I18N_DIR, STATIC_DIR, environment, translator

TEMPLATES = FRONTEND_DIR / "reports"  # the report's templates (reports/… in the pages' environment)
STYLESHEETS = (STATIC_DIR / "palette.css", TEMPLATES / "static" / "report.css")
CSV_COLUMNS = ("section", "key", "metric", "value")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


# section, key, metric, value
CsvRow = tuple[str, str, str, str]


def json_text(doc: JsonObject) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(section: str, value: Any, key: str, prefix: str, rows: list[CsvRow]) -> None:
    if isinstance(value, dict):
        for name, inner in value.items():
            _flatten(section, inner, key, f"{prefix}.{name}" if prefix else name, rows)
    elif isinstance(value, list):
        child = f"{section}.{prefix}" if prefix else section
        for index, item in enumerate(value):
            if isinstance(item, dict):
                item_key = str(item.get("date") or item.get("id") or index)
                _flatten(child, {k: v for k, v in item.items() if k not in ("date", "id")}, item_key, "", rows)
            else:
                rows.append((child, str(index), "", _csv_value(item)))
    else:
        rows.append((section, key, prefix, _csv_value(value)))


def csv_text(doc: JsonObject) -> str:
    """Long layout: section, key (a day, an id, or empty), metric (dotted field name), value."""
    rows: list[CsvRow] = []
    for section, value in doc.items():
        _flatten(section, value, "", "", rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


# --- HTML -------------------------------------------------------------------------------------


@functools.cache
def palette() -> dict[str, str]:
    """The palette's custom properties by name (without `--`), for the one place CSS variables do not
    reach: Chromium's page header and footer templates, rendered apart from the document."""
    return dict(re.findall(r"--([a-z0-9-]+):\s*([^;]+);", STYLESHEETS[0].read_text(encoding="utf-8")))


def stylesheet() -> Markup:
    """What the self-contained document carries inline: the palette every page uses, then the
    reports' own stylesheet (the same files the /reports page links)."""
    return Markup("\n".join(path.read_text(encoding="utf-8") for path in STYLESHEETS))


def report_charts(doc: JsonObject, t: Translator) -> dict[str, Markup]:
    availability = doc["availability"]["daily"]
    days = [row["date"][8:] for row in availability]
    latency = doc["responseTimes"]["daily"]
    usage = doc["usage"]["dailyStats"]
    target = doc["credits"]["p95TargetMs"]
    month = doc["period"]["label"]
    tones = charts.TONES
    return {
        "availability": charts.status_bars(
            "chart-availability",
            f"{t('reports.daily_availability')} {month}",
            f"{t('reports.uptime')} %, {t('reports.day_status')}: "
            + ", ".join(t(f"reports.status_{s}") for s in ("o", "po", "mo", "e", "nd")),
            days,
            [row["uptimePercentage"] for row in availability],
            [row["status"] for row in availability],
            t("reports.chart_no_data"),
        ),
        "latency": charts.line_chart(
            "chart-latency",
            f"{t('reports.latency_percentiles')} {month}",
            f"ms; P95 target {target} ms",
            [row["date"][8:] for row in latency],
            [
                charts.Series("P50", [r["p50"] for r in latency], tones["p50"]),
                charts.Series("P95", [r["p95"] for r in latency], tones["p95"]),
                charts.Series("P99", [r["p99"] for r in latency], tones["p99"]),
                charts.Series(f"{t('reports.target')} P95", [target] * len(latency), tones["target"], dashed=True),
            ],
            t("reports.chart_no_data"),
            " ms",
        ),
        "usage": charts.stacked_bars(
            "chart-usage",
            f"{t('reports.daily_usage')} {month}",
            f"{t('reports.success')} / {t('reports.errors')}",
            [row["date"][8:] for row in usage],
            [
                charts.Series(t("reports.success"), [r["success"] for r in usage], tones["success"]),
                charts.Series(t("reports.errors"), [r["errors"] for r in usage], tones["errors"]),
            ],
            t("reports.chart_no_data"),
        ),
    }


def report_context(doc: JsonObject, language: str) -> JsonObject:
    """What the report body (reports/_report_body.html) needs, in the page and in the document."""
    t = translator(language)
    return {"doc": doc, "t": t, "lang": t.lang, "zone": doc["period"]["timezone"], "charts": report_charts(doc, t)}


def html(doc: JsonObject, language: str) -> str:
    """The standalone printable document (inline CSS and SVG: one file, also the PDF's source)."""
    template = environment().get_template("reports/report.html")
    return template.render(**report_context(doc, language), css=stylesheet())


def sources() -> list[Path]:
    """Every file the document is made from: its templates, stylesheets and wording, and this code."""
    code = Path(__file__).parent
    return [
        *TEMPLATES.glob("*.html"),
        *STYLESHEETS,
        *I18N_DIR.glob("reports.*.json"),
        code / "render.py",
        code / "charts.py",
        Path(templating.__file__),
    ]


async def as_bytes(doc: JsonObject, fmt: str, language: str, chromium: str | None = None) -> bytes:
    """One format of the report document."""
    if fmt == "json":
        return json_text(doc).encode()
    if fmt == "csv":
        return csv_text(doc).encode()
    if fmt == "html":
        return html(doc, language).encode()
    if fmt == "pdf":
        return await pdf.html_to_pdf(html(doc, language), chromium)
    raise ValueError(f"unknown format {fmt!r}")


def file_name(doc: JsonObject, fmt: str) -> str:
    meta = doc["report"]
    suffix = f"r{meta['revision']}" if meta["revision"] else "provisional"
    return f"sla-report-{meta['serviceId']}-{meta['month']}-{suffix}.{fmt}"
