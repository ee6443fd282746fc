"""The public status page (port 3003, PRD §3.1 verify-main): `/`, and `/?page=N` for older past
incidents. Public: no login, like the API's GETs it reads."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import Scope

from app import deps
from app.config import Settings
from app.errors import DB_UNAVAILABLE, is_unreachable
from app.status import cache as status_cache
from app.web import i18n
from app.web.status import service
from app.web.templating import LANG_COOKIE_MAX_AGE_S, language_of, render, translator

router = APIRouter(include_in_schema=False)
PAST_PAGES = -(-service.PAST_DAYS // service.PAST_DAYS_PER_PAGE)
DAY_CODES = ("o", "po", "mo", "nd", "e")
STATES = ("operational", "degraded", "outage")
VARY = "Cookie, Accept-Language"  # the language comes from ?lang=, the lang cookie or Accept-Language
MEDIA_TYPE = "text/html; charset=utf-8"


def script_texts(lang: str) -> dict[str, Any]:
    """The texts status.js needs: states, day statuses, tooltip labels, announcements."""
    t = translator(lang)
    return {
        "state": {s: t(f"status.state.{s}") for s in STATES},
        "banner": {s: t(f"status.banner.{s}") for s in STATES},
        "day": {c: t(f"status.day.{c}") for c in DAY_CODES},
        **t.subset("status.js."),
        "live": {k: t(f"common.live.{k}") for k in ("connecting", "live", "offline")},
    }


def _snapshots(app: FastAPI) -> dict[int, dict[str, Any]]:
    """The last page data built per page number, served while the database is unreachable."""
    kept: dict[int, dict[str, Any]] | None = getattr(app.state, "status_snapshots", None)
    if kept is None:
        kept = app.state.status_snapshots = {}
    return kept


def _served(lang: str, paged: bool, page: int) -> status_cache.Served:
    """Where a page's body is kept (its variant: language, page number, whether ?page= was given) and
    the headers it is sent with."""
    return status_cache.Served("page", (lang, paged, page), MEDIA_TYPE, {"Content-Language": lang, "Vary": VARY})


def from_memory(scope: Scope, headers: Headers) -> status_cache.Served | None:
    """Where the body of `GET /` is kept, for status_cache.FromMemory to answer it from there when
    current; None (for the route) when a query string is given: ?page= and ?lang= (which sets a
    cookie) are the route's."""
    if scope["query_string"]:
        return None
    cookie = headers.get("cookie")
    lang = i18n.negotiate(
        None, cookie_parser(cookie).get(i18n.LANG_COOKIE) if cookie else None, headers.get("accept-language")
    )
    return _served(lang, False, 1)


def _render(request: Request, data: dict[str, Any], stale: dict[str, Any] | None) -> HTMLResponse:
    texts = script_texts(language_of(request))
    return render(
        request,
        "status/index.html",
        data=data,
        past_pages=PAST_PAGES,
        day_codes=DAY_CODES,
        script_texts=texts,
        grid_html=service.grid_html,
        stale=stale,
        grid_summary=lambda bars: service.grid_summary(bars, texts["day"]),
    )


@router.get("/")
async def status_page(
    request: Request,
    page: int = Query(1, ge=1, le=PAST_PAGES),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> Response:
    # Built once per change per variant (language, page) and served from memory (app/status/cache.py).
    # The connections are taken here, not as a dependency, so that an unreachable database falls back
    # to the last page this process built (labelled with its age) instead of an error.
    kept = _snapshots(request.app)
    pool = request.app.state.pool
    lang = language_of(request)
    # The page's only inputs from the request are its language and page number: it is built from
    # those alone (other query parameters would otherwise be copied into its language links), so
    # the variants are few and a crowd cannot make each request a new build by varying the query.
    paged = "page" in request.query_params
    served = _served(lang, paged, page)
    bodies = status_cache.of(request.app.state, served.cache)
    variant = served.key

    async def build() -> tuple[bytes, dict[str, Any]]:
        query = urlencode([("page", page)] * paged + [("lang", lang)])
        canonical = Request({**request.scope, "query_string": query.encode()})
        async with pool.acquire() as conn:
            data = await service.page(conn, now, settings.timezone, settings.zone, page, pool)
        kept[page] = data  # read at `now`: the age the stale page states
        shown = bodies.last(variant)
        if shown is not None and shown.built_at <= now and service.same_figures(shown.extra, data):
            # Only time moved (the rebuild every FRESH_S): the same bytes and ETag, not rendered again.
            return shown.content, shown.extra
        # rendered in a thread: ~20-50 ms of template work would otherwise hold every other reader
        return bytes((await asyncio.to_thread(_render, canonical, data, None)).body), data

    try:
        body = await bodies.get(variant, await status_cache.version_of(request), now, build)
    except DB_UNAVAILABLE as exc:
        previous = kept.get(page)
        if previous is None or not is_unreachable(exc):
            raise  # nothing built yet: the API's 503 (or a bug's 500)
        stale = {
            "time": previous["asOf"].astimezone(settings.zone).strftime("%H:%M"),
            "minutes": max(0, int((now - previous["asOf"]).total_seconds() // 60)),
        }
        return _render(request, previous, stale)  # no-store: its age label changes by the minute
    response = status_cache.respond(body, request.headers, served.media_type, served.headers)
    if request.query_params.get("lang") in i18n.LANGUAGES and request.cookies.get(i18n.LANG_COOKIE) != lang:
        # as render() does: ?lang= is remembered; a response that sets a cookie is nobody else's to keep
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE_S, samesite="lax", httponly=True)
        response.headers["Cache-Control"] = "private, no-cache"
    return response
