"""The public status page (port 3003, PRD §3.1 verify-main): `/`, and `/?page=N` for older past
incidents. Public: no login, like the API's GETs it reads."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from app import deps
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


@router.get("/")
async def status_page(
    request: Request,
    page: int = Query(1, ge=1, le=PAST_PAGES),
    conn=Depends(deps.connection),
    settings=Depends(deps.settings),
    now=Depends(deps.clock),
):
    data = await service.page(conn, now, settings.timezone, settings.zone, page, request.app.state.pool)
    texts = script_texts(language_of(request))
    return render(
        request,
        "status/index.html",
        data=data,
        past_pages=PAST_PAGES,
        day_codes=DAY_CODES,
        script_texts=texts,
        grid_html=service.grid_html,
        grid_summary=lambda bars: service.grid_summary(bars, texts["day"]),
    )
