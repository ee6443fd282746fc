"""Charts as inline SVG, drawn on the server: the same markup in the HTML page and in the PDF, no
JavaScript. Each chart is an image with a title and a description (screen readers); the figures it
draws are also in the document's tables."""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 230
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 40
# Tones, not colours: each mark carries the class `tone-<name>` and the report's stylesheet
# (frontend/reports/static/report.css) gives it a colour of the palette (frontend/static/palette.css),
# so the page, the HTML file and the PDF draw with the same colours as every other page.
TONES = {
    "o": "ok",
    "po": "warn",
    "mo": "bad",
    "nd": "no-data",
    "e": "none",
    "success": "series-1",
    "errors": "bad",
    "p50": "ok",
    "p95": "series-1",
    "p99": "series-2",
    "target": "bad",
    "forecast": "muted",
    "line": "series-1",
}


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]
    tone: str  # a value of TONES
    dashed: bool = False


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks, value = [], first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _label(value: float, unit: str) -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text}{unit}"


class _Canvas:
    def __init__(
        self, chart_id: str, title: str, description: str, labels: list[str], lo: float, hi: float, unit: str = ""
    ):
        self.id, self.labels, self.unit = chart_id, labels, unit
        self.ticks = nice_ticks(lo, hi)
        self.lo, self.hi = self.ticks[0], self.ticks[-1]
        self.parts = [
            f'<svg class="chart" id="{chart_id}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
            f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>',
        ]
        self._axes()

    @property
    def plot_w(self) -> float:
        return WIDTH - LEFT - RIGHT

    @property
    def plot_h(self) -> float:
        return HEIGHT - TOP - BOTTOM

    def y(self, value: float) -> float:
        value = min(max(value, self.lo), self.hi)
        return TOP + self.plot_h * (1 - (value - self.lo) / (self.hi - self.lo))

    def slot(self, index: int) -> tuple[float, float]:
        """(left x, width) of the index-th category."""
        width = self.plot_w / max(1, len(self.labels))
        return LEFT + index * width, width

    def centre(self, index: int) -> float:
        x, width = self.slot(index)
        return x + width / 2

    def _axes(self) -> None:
        for tick in self.ticks:
            y = _f(self.y(tick))
            self.parts.append(
                f'<line class="gridline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>'
                f'<text x="{LEFT - 6}" y="{y}" dy="4" text-anchor="end">'
                f"{escape(_label(tick, self.unit))}</text>"
            )
        step = max(1, math.ceil(len(self.labels) / 16))
        for i, label in enumerate(self.labels):
            if i % step == 0 or i == len(self.labels) - 1:
                self.parts.append(
                    f'<text x="{_f(self.centre(i))}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                    f"{escape(label)}</text>"
                )

    def legend(self, entries: list[tuple[str, str, bool]]) -> None:
        x = LEFT
        for name, tone, dashed in entries:
            dash = ' stroke-dasharray="5 3"' if dashed else ""
            self.parts.append(
                f'<line class="key tone-{tone}" x1="{x}" x2="{x + 18}" y1="{HEIGHT - 8}" y2="{HEIGHT - 8}" '
                f'stroke-width="3"{dash}/><text x="{x + 22}" y="{HEIGHT - 4}">'
                f"{escape(name)}</text>"
            )
            x += 30 + sum(12 if ord(ch) > 0x1100 else 7 for ch in name)

    def svg(self) -> Markup:
        return Markup("".join(self.parts) + "</svg>")


def _empty(chart_id: str, title: str, no_data: str) -> Markup:
    return Markup(
        f'<svg class="chart" id="{chart_id}" role="img" aria-labelledby="{chart_id}-t" '
        f'viewBox="0 0 {WIDTH} 60" width="100%" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">'
        f'<title id="{chart_id}-t">{escape(title)}</title><text x="{WIDTH / 2}" y="34" '
        f'text-anchor="middle" font-size="13">{escape(no_data)}</text></svg>'
    )


def status_bars(
    chart_id: str,
    title: str,
    description: str,
    labels: list[str],
    values: list[float | None],
    statuses: list[str],
    no_data: str,
) -> Markup:
    """Daily availability: one bar per day on a zoomed percent axis, coloured by the day's status."""
    known = [v for v in values if v is not None]
    if not known:
        return _empty(chart_id, title, no_data)
    floor = next(f for f in (99.9, 99, 95, 90, 50, 0) if f <= min(known))
    canvas = _Canvas(chart_id, title, description, labels, floor, 100, "%")
    for i, (value, status) in enumerate(zip(values, statuses)):
        if value is None:
            continue
        x, width = canvas.slot(i)
        top = canvas.y(value)
        canvas.parts.append(
            f'<rect x="{_f(x + width * 0.15)}" y="{_f(top)}" width="{_f(width * 0.7)}" '
            f'height="{_f(max(1.0, canvas.y(canvas.lo) - top))}" class="tone-{TONES.get(status, "none")}">'
            f"<title>{escape(labels[i])}: {value:.2f}%</title></rect>"
        )
    return canvas.svg()


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    labels: list[str],
    series: list[Series],
    no_data: str,
    unit: str = "",
    floor_zero: bool = True,
) -> Markup:
    """Lines over categories; gaps where a value is missing; dashed series for targets or forecasts."""
    known = [v for s in series for v in s.values if v is not None]
    if not known:
        return _empty(chart_id, title, no_data)
    lo = 0 if floor_zero else min(known)
    canvas = _Canvas(chart_id, title, description, labels, lo, max(known) * 1.05 or 1, unit)
    for s in series:
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        segment: list[str] = []
        segments = []
        for i, value in enumerate(s.values):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{_f(canvas.centre(i))},{_f(canvas.y(value))}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) == 1:
                x, y = points[0].split(",")
                canvas.parts.append(f'<circle class="tone-{s.tone}" cx="{x}" cy="{y}" r="2.5"/>')
            else:
                canvas.parts.append(
                    f'<polyline class="tone-{s.tone}" fill="none" stroke-width="2"{dash} points="{" ".join(points)}"/>'
                )
    canvas.legend([(s.name, s.tone, s.dashed) for s in series])
    return canvas.svg()


def stacked_bars(
    chart_id: str, title: str, description: str, labels: list[str], series: list[Series], no_data: str, unit: str = ""
) -> Markup:
    """Bars stacked per category (e.g. successful and failed calls of a day)."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    if not any(totals):
        return _empty(chart_id, title, no_data)
    canvas = _Canvas(chart_id, title, description, labels, 0, max(totals), unit)
    for i in range(len(labels)):
        x, width = canvas.slot(i)
        base = 0.0
        for s in series:
            value = s.values[i] or 0
            if value <= 0:
                continue
            top, bottom = canvas.y(base + value), canvas.y(base)
            pattern = ' fill-opacity="0.45" stroke-dasharray="2 2"' if s.dashed else ""
            canvas.parts.append(
                f'<rect x="{_f(x + width * 0.15)}" y="{_f(top)}" width="{_f(width * 0.7)}" '
                f'height="{_f(max(0.5, bottom - top))}" class="tone-{s.tone}{" pattern" if s.dashed else ""}"{pattern}>'
                f"<title>{escape(labels[i])} {escape(s.name)}: {value:,.0f}</title></rect>"
            )
            base += value
    canvas.legend([(s.name, s.tone, s.dashed) for s in series])
    return canvas.svg()
