"""Server-rendered pages: one Jinja2 environment over frontend/ (autoescape on, undefined names are
errors) and `render(request, template, **ctx)`, which adds the language, `t`, `static` and the site."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from app.config import resource_path
from app.web import i18n

FRONTEND_DIR = resource_path("frontend")  # the checkout's, or the installed data files'
STATIC_DIR = FRONTEND_DIR / "static"
I18N_DIR = FRONTEND_DIR / "i18n"
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600


@lru_cache(maxsize=512)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@lru_cache
def static_roots() -> dict[str, Path]:
    """URL prefix -> folder: /static/ is frontend/static/, /static/<area>/ an area's own
    frontend/<area>/static/ (the console keeps its assets in frontend/console/static/)."""
    roots = {f"/static/{d.parent.name}": d for d in sorted(FRONTEND_DIR.glob("*/static")) if d != STATIC_DIR}
    return {**roots, "/static": STATIC_DIR}


def static_url(path: str) -> str:
    """/static/<path>?v=<content hash>: cached for a year, a new URL whenever the file changes."""
    url = f"/static/{path}"
    for prefix, folder in static_roots().items():
        if url.startswith(prefix + "/"):
            file = (folder / url[len(prefix) + 1 :]).resolve()
            if file.is_relative_to(folder.resolve()) and file.is_file():
                return f"{url}?v={_digest(file, file.stat().st_mtime_ns)}"
            break
    raise FileNotFoundError(f"no static file {path!r} under {FRONTEND_DIR}")


def json_script(value: object) -> Markup:
    """JSON safe inside <script type="application/json"> (no '</script>' or '<!--' can end it)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def number(value: float | None, places: int | None = None) -> str:
    """Filter `num`: thousands separated, `places` decimals when given; a missing figure is a dash."""
    if value is None:
        return "—"
    return f"{value:,.{places}f}" if places is not None else f"{value:,}"


def local_time(value: str | None, zone: str) -> str:
    """Filter `local`: a UTC timestamp (ISO 8601) as `YYYY-MM-DD HH:MM` in a time zone."""
    if not value:
        return "—"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(FRONTEND_DIR),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    env.filters["json_script"] = json_script
    env.filters["num"] = number
    env.filters["local"] = local_time
    return env


def language_of(request: Request) -> str:
    return i18n.negotiate(
        request.query_params.get("lang"), request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language")
    )


def url_with_lang(request: Request, lang: str) -> str:
    """The current page in another language (other query parameters kept)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
    return f"{request.url.path}?{urlencode(params)}"


def translator(lang: str) -> i18n.Translator:
    """`t` of a language (an unsupported one gives the default): the one lookup every page, the
    report document and the scripts' texts go through."""
    return i18n.Translator(lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE, i18n.catalogs_of(I18N_DIR))


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page in the request's language; `?lang=` is remembered in the `lang` cookie."""
    lang = language_of(request)
    t = translator(lang)
    site = getattr(request.app.state, "site", "api")
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            lang=lang,
            t=t,
            site=site,
            languages=i18n.LANGUAGES,
            lang_url=lambda code: url_with_lang(request, code),
            **context,
        )
    )
    response = HTMLResponse(
        html,
        status_code=status_code,
        headers={"Content-Language": lang, "Vary": "Cookie, Accept-Language", "Cache-Control": "no-store"},
    )
    if request.query_params.get("lang") in i18n.LANGUAGES and request.cookies.get(i18n.LANG_COOKIE) != lang:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE_S, samesite="lax", httponly=True)
    return response
