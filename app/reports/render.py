"""The report formats, each rendered from the report document alone (snapshot figures + revision
metadata): JSON (exact figures), CSV (one long layout), HTML (printable, inline SVG charts). The PDF
is this HTML printed by Chromium (app/reports/pdf.py)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from app.config import resource_path
from app.reports import charts, pdf
from app.reports.i18n import strings

TEMPLATES = resource_path("frontend") / "reports"
CSV_COLUMNS = ("section", "key", "metric", "value")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


def json_text(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(section: str, value, key: str, prefix: str, rows: list) -> None:
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


def csv_text(doc: dict) -> str:
    """Long layout: section, key (a day, an id, or empty), metric (dotted field name), value."""
    rows: list[tuple] = []
    for section, value in doc.items():
        _flatten(section, value, "", "", rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


# --- HTML -------------------------------------------------------------------------------------


def _number(value, places: int | None = None) -> str:
    if value is None:
        return "—"
    if places is not None:
        return f"{value:,.{places}f}"
    return f"{value:,}" if isinstance(value, int) else f"{value:,}"


def _local(value: str | None, zone: str) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    env.filters["local"] = _local
    return env


def stylesheet() -> Markup:
    return Markup((TEMPLATES / "report.css").read_text())


def report_charts(doc: dict, t: dict) -> dict[str, Markup]:
    availability = doc["availability"]["daily"]
    days = [row["date"][8:] for row in availability]
    latency = doc["responseTimes"]["daily"]
    usage = doc["usage"]["dailyStats"]
    target = doc["credits"]["p95TargetMs"]
    month = doc["period"]["label"]
    return {
        "availability": charts.status_bars(
            "chart-availability",
            f"{t['daily_availability']} {month}",
            f"{t['uptime']} %, {t['day_status']}: {', '.join(t['status_' + s] for s in ('o', 'po', 'mo', 'e', 'nd'))}",
            days,
            [row["uptimePercentage"] for row in availability],
            [row["status"] for row in availability],
            t["chart_no_data"],
        ),
        "latency": charts.line_chart(
            "chart-latency",
            f"{t['latency_percentiles']} {month}",
            f"ms; P95 target {target} ms",
            [row["date"][8:] for row in latency],
            [
                charts.Series("P50", [r["p50"] for r in latency], charts.COLOURS["p50"]),
                charts.Series("P95", [r["p95"] for r in latency], charts.COLOURS["p95"]),
                charts.Series("P99", [r["p99"] for r in latency], charts.COLOURS["p99"]),
                charts.Series(f"{t['target']} P95", [target] * len(latency), charts.COLOURS["target"], dashed=True),
            ],
            t["chart_no_data"],
            " ms",
        ),
        "usage": charts.stacked_bars(
            "chart-usage",
            f"{t['daily_usage']} {month}",
            f"{t['success']} / {t['errors']}",
            [row["date"][8:] for row in usage],
            [
                charts.Series(t["success"], [r["success"] for r in usage], charts.COLOURS["success"]),
                charts.Series(t["errors"], [r["errors"] for r in usage], charts.COLOURS["errors"]),
            ],
            t["chart_no_data"],
        ),
    }


def report_context(doc: dict, language: str) -> dict:
    t = strings(language)
    return {"doc": doc, "t": t, "lang": language, "zone": doc["period"]["timezone"], "charts": report_charts(doc, t)}


def html(doc: dict, language: str) -> str:
    """The standalone printable document (inline CSS and SVG: one file, also the PDF's source)."""
    return environment().get_template("report.html").render(**report_context(doc, language), css=stylesheet())


FORMATS = tuple(MEDIA_TYPES)


async def as_bytes(doc: dict, fmt: str, language: str, chromium: str | None = None) -> bytes:
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


def file_name(doc: dict, fmt: str) -> str:
    meta = doc["report"]
    suffix = f"r{meta['revision']}" if meta["revision"] else "provisional"
    return f"sla-report-{meta['serviceId']}-{meta['month']}-{suffix}.{fmt}"
