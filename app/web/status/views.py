"""The public status page (port 3003, PRD §3.1 verify-main): `/`, and `/?page=N` for older past
incidents. Public: no login, like the API's GETs it reads."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from app import deps
from app.errors import DB_UNAVAILABLE, is_unreachable
from app.web.status import service
from app.web.templating import language_of, render, translator

router = APIRouter(include_in_schema=False)
PAST_PAGES = -(-service.PAST_DAYS // service.PAST_DAYS_PER_PAGE)
DAY_CODES = ("o", "po", "mo", "nd", "e")
STATES = ("operational", "degraded", "outage")


def script_texts(lang: str) -> dict:
    """The texts status.js needs: states, day statuses, tooltip labels, announcements."""
    t = translator(lang)
    return {
        "state": {s: t(f"status.state.{s}") for s in STATES},
        "banner": {s: t(f"status.banner.{s}") for s in STATES},
        "day": {c: t(f"status.day.{c}") for c in DAY_CODES},
        **t.subset("status.js."),
        "live": {k: t(f"common.live.{k}") for k in ("connecting", "live", "offline")},
    }


def _snapshots(app) -> dict:
    """The last page built per page number, served while the database is unreachable."""
    kept = getattr(app.state, "status_snapshots", None)
    if kept is None:
        kept = app.state.status_snapshots = {}
    return kept


@router.get("/")
async def status_page(
    request: Request,
    page: int = Query(1, ge=1, le=PAST_PAGES),
    settings=Depends(deps.settings),
    now=Depends(deps.clock),
):
    # The connection is taken here, not as a dependency, so that an unreachable database falls back
    # to the last page this process built (labelled with its age) instead of an error.
    kept = _snapshots(request.app)
    stale = None
    try:
        async with request.app.state.pool.acquire() as conn:
            data = await service.page(conn, now, settings.timezone, settings.zone, page, request.app.state.pool)
        kept[page] = data
    except DB_UNAVAILABLE as exc:
        previous = kept.get(page)
        if previous is None or not is_unreachable(exc):
            raise  # nothing built yet: the API's 503 (or a bug's 500)
        data = previous
        stale = {
            "time": data["asOf"].astimezone(settings.zone).strftime("%H:%M"),
            "minutes": max(0, int((now - data["asOf"]).total_seconds() // 60)),
        }
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
