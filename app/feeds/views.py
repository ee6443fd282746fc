"""Public feeds (no token, like every status read): /feeds/incidents.rss and /feeds/incidents.atom."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from app import deps
from app.feeds import service

router = APIRouter(tags=["feeds"])
CACHE = "public, max-age=60"


async def _feed(request: Request, conn, now, render, media_type: str) -> Response:
    base_url = str(request.base_url)
    entries = await service.items(conn, base_url, now)
    body = render(entries, base_url, str(request.url.replace(query="")), now)
    return Response(body, media_type=f"{media_type}; charset=utf-8", headers={"Cache-Control": CACHE})


@router.get(
    "/feeds/incidents.rss",
    summary="RSS 2.0 feed of incidents and maintenance, newest first",
    response_class=Response,
    responses={200: {"content": {"application/rss+xml": {}}}},
)
async def incidents_rss(request: Request, conn=Depends(deps.connection), now=Depends(deps.clock)):
    return await _feed(request, conn, now, service.rss, "application/rss+xml")


@router.get(
    "/feeds/incidents.atom",
    summary="Atom 1.0 feed of incidents and maintenance, newest first",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
async def incidents_atom(request: Request, conn=Depends(deps.connection), now=Depends(deps.clock)):
    return await _feed(request, conn, now, service.atom, "application/atom+xml")
