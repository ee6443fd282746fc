"""Public feeds (no token, like every status read): /feeds/incidents.rss and /feeds/incidents.atom, and
the same of one service at /feeds/services/{service_id}/incidents.rss and .atom."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Request, Response

from app import deps
from app.contract import errors
from app.errors import not_found
from app.feeds import queries, service

router = APIRouter(tags=["feeds"])
CACHE = "public, max-age=60"
ServiceId = Path(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$", description="a service id, as in /api/services")


# rss or atom: (entries, base URL, the feed's own URL, now, what it is about) -> the document
Render = Callable[[list[service.Item], str, str, datetime, service.About], bytes]


async def _feed(
    request: Request,
    conn: asyncpg.Connection,
    now: datetime,
    render: Render,
    media_type: str,
    service_id: str | None = None,
) -> Response:
    # Links from the configured public URL: a Host header (anyone's to set) must not reach cached feeds.
    settings = request.app.state.settings
    about = service.About()
    if service_id is not None:
        name = await conn.fetchval(queries.SERVICE_NAME, service_id)
        if name is None:
            raise not_found("service", service_id)
        about = service.About.service(name)
    base_url = settings.public_url()
    entries = await service.items(conn, base_url, now, service_id=service_id)
    body = render(entries, base_url, settings.public_url(request.url.path), now, about)
    return Response(body, media_type=f"{media_type}; charset=utf-8", headers={"Cache-Control": CACHE})


@router.get(
    "/feeds/incidents.rss",
    summary="RSS 2.0 feed of incidents and maintenance, newest first",
    response_class=Response,
    responses={200: {"content": {"application/rss+xml": {}}}},
)
async def incidents_rss(
    request: Request, conn: asyncpg.Connection = Depends(deps.connection), now: datetime = Depends(deps.clock)
) -> Response:
    return await _feed(request, conn, now, service.rss, "application/rss+xml")


@router.get(
    "/feeds/incidents.atom",
    summary="Atom 1.0 feed of incidents and maintenance, newest first",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
async def incidents_atom(
    request: Request, conn: asyncpg.Connection = Depends(deps.connection), now: datetime = Depends(deps.clock)
) -> Response:
    return await _feed(request, conn, now, service.atom, "application/atom+xml")


FORMATS: dict[str, tuple[Render, str]] = {
    "rss": (service.rss, "application/rss+xml"),
    "atom": (service.atom, "application/atom+xml"),
}


@router.get(
    "/feeds/services/{service_id}/incidents.{fmt}",
    summary="RSS 2.0 (.rss) or Atom 1.0 (.atom) feed of one service's incidents and maintenance, newest first",
    response_class=Response,
    responses={200: {"content": {media: {} for _, media in FORMATS.values()}}, **errors(404)},
)
async def service_feed(
    request: Request,
    fmt: Literal["rss", "atom"],
    service_id: str = ServiceId,
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> Response:
    render, media_type = FORMATS[fmt]
    return await _feed(request, conn, now, render, media_type, service_id)
