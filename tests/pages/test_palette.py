"""One palette, one layout: colours are written in frontend/static/palette.css alone (as CSS custom
properties, one orange among them) and every page template extends base.html. Read from the files,
no browser: a colour literal or a layout of its own added anywhere fails here, naming the file."""

import colorsys
import re
from pathlib import Path

from app.reports import render
from app.web.templating import FRONTEND_DIR, STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
PALETTE = STATIC_DIR / "palette.css"
SCANNED = ("frontend", "app", "prober", "workers")
SUFFIXES = {".css", ".html", ".js", ".py", ".svg", ".json"}
# Files that may write colours, and why.
ALLOWED = {
    "frontend/static/palette.css": "the palette itself",
    "frontend/static/favicon.svg": "fetched by the browser on its own, no stylesheet applies (checked: palette values)",
    "frontend/static/vendor": "third-party files as published (uPlot, Swagger UI, ReDoc, socket.io)",
    "frontend/testing/axe-core-4.14.1.min.js": "third-party, tests only",
    "app/notifications/channels/slack.py": "not a page: the attachment colours Slack draws (no CSS there)",
}
HEX = re.compile(r"(?<![\w&])#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3,4})\b")
FUNCTION = re.compile(r"\b(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\(\s*[\d.]", re.I)
NAMED = re.compile(
    r"(?:\bcolor|\bbackground(?:-color)?|\bfill|\bstroke|\bborder(?:-[a-z]+)*|\boutline(?:-color)?)\s*[:=]\s*"
    r"[\"']?[^;\"'>]*\b(white|black|red|green|blue|orange|yellow|gr[ae]y|silver|purple|navy|maroon)\b",
    re.I,
)
DEFINITION = re.compile(r"(--[a-z0-9-]+)\s*:\s*([^;]+);")
# Custom properties defined outside the palette: not colours (checked by the scan) but sizes and fonts,
# and the report charts' --tone, which is always a var() of the palette.
OTHER_PROPERTIES = {"--radius", "--font", "--tone"}


def _allowed(relative: str) -> bool:
    return any(relative == path or relative.startswith(path + "/") for path in ALLOWED)


def _sources():
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            relative = path.relative_to(ROOT).as_posix()
            if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in relative and not _allowed(relative):
                yield relative, path.read_text(encoding="utf-8")


def colour_literals(text: str) -> list[str]:
    return [m.group(0) for pattern in (HEX, FUNCTION, NAMED) for m in pattern.finditer(text)]


def palette() -> dict[str, str]:
    return dict(DEFINITION.findall(PALETTE.read_text(encoding="utf-8")))


def test_the_scan_finds_colours_in_every_spelling():
    """The patterns themselves: they must catch what they are for and not ids or comments."""
    written = 'a { color: #9a4700; } b { fill: rgba(0, 0, 0, .2); } c { border: 1px solid white; } x = "#fff"'
    assert colour_literals(written) == ["#9a4700", "#fff", "rgba(0", "border: 1px solid white"]
    assert colour_literals('<a href="#main">, # 123 comment, &#123;, `rgba(${r}, ${g})`, "#content"') == []


def test_colours_are_written_only_in_the_palette():
    assert [path for path in ALLOWED if not (ROOT / path).exists()] == []  # no stale exception
    found = {relative: literals for relative, text in _sources() if (literals := colour_literals(text))}
    assert found == {}, "colour literals outside frontend/static/palette.css (use its custom properties)"


def test_the_palette_defines_each_colour_once_and_one_orange():
    text = PALETTE.read_text(encoding="utf-8")
    names = [name for name, _ in DEFINITION.findall(text)]
    assert len(names) == len(set(names)) and {"--ok", "--warn", "--bad", "--text", "--surface"} <= set(names)
    oranges = []
    for name, value in palette().items():
        if HEX.fullmatch(value.strip()) and len(value.strip()) == 7:
            r, g, b = (int(value.strip()[i : i + 2], 16) / 255 for i in (1, 3, 5))
            hue, lightness, saturation = colorsys.rgb_to_hls(r, g, b)
            if 15 <= hue * 360 <= 45 and saturation > 0.5 and lightness < 0.8:  # not the pale tint --warn-bg
                oranges.append(name)
    assert oranges == ["--warn"]
    # the favicon (allowed above) draws in palette colours only
    favicon = (STATIC_DIR / "favicon.svg").read_text(encoding="utf-8")
    colours = {v.strip().lower() for v in palette().values()} | {"#fff"}
    assert {c.lower() for c in HEX.findall(favicon)} <= colours


def test_every_custom_property_used_is_defined():
    defined = set(palette()) | OTHER_PROPERTIES
    elsewhere: dict[str, list[str]] = {}
    for relative, text in _sources():
        for name, _ in DEFINITION.findall(text) if relative.endswith(".css") else []:
            elsewhere.setdefault(name, []).append(relative)
        for name in re.findall(r"var\((--[a-z0-9-]+)", text) + re.findall(r'colour\("([a-z0-9-]+)"', text):
            name = name if name.startswith("--") else f"--{name}"
            assert name in defined, f"{relative}: {name} is not defined in palette.css"
    assert set(elsewhere) <= OTHER_PROPERTIES, elsewhere  # no palette entry is defined a second time
    assert not set(palette()) & OTHER_PROPERTIES


def test_every_page_extends_the_base_layout_and_the_report_carries_the_palette():
    extends = re.compile(r"""\{%-?\s*extends\s+["']([^"']+)["']""")
    pages = [
        path
        for path in sorted(FRONTEND_DIR.rglob("*.html"))
        if not path.name.startswith("_") and "vendor" not in path.parts and path.name != "base.html"
    ]
    # the self-contained documents (HTML download, PDF): a service's report, a customer's statement
    standalone = {"reports/report.html", "reports/statement.html"}
    assert len(pages) > 10
    for path in pages:
        name = path.relative_to(FRONTEND_DIR).as_posix()
        chain = [name]
        while match := extends.search((FRONTEND_DIR / chain[-1]).read_text(encoding="utf-8")):
            chain.append(match.group(1))
        if name in standalone:
            assert chain == [name]
        else:
            assert chain[-1] == "base.html", f"{name} does not extend base.html: {chain}"
    base = (FRONTEND_DIR / "base.html").read_text(encoding="utf-8")
    assert base.index("static('palette.css')") < base.index("static('base.css')")
    assert render.stylesheet().startswith(PALETTE.read_text(encoding="utf-8"))
