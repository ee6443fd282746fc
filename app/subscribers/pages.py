"""The pages of a public subscriber's links: confirm, manage, unsubscribe. Each is one form whose
button calls the API (frontend/static/status/subscribe.js): opening a link changes nothing, so a mail
scanner that fetches every link neither confirms nor unsubscribes anybody. The token is checked by
the API when the button is pressed."""

from __future__ import annotations

from typing import Literal

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from app import deps
from app.subscribers import queries
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Token = Query("", max_length=2000)


async def _page(
    request: Request, conn: asyncpg.Connection, action: Literal["confirm", "manage", "unsubscribe"], token: str
) -> HTMLResponse:
    services = [{"id": r["id"], "name": r["name"]} for r in await conn.fetch(queries.CHOOSABLE_SERVICES)]
    response = render(request, "status/subscription.html", action=action, token=token, services=services)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return response


@router.get("/subscriptions/confirm")
async def confirm_page(
    request: Request, token: str = Token, conn: asyncpg.Connection = Depends(deps.connection)
) -> HTMLResponse:
    return await _page(request, conn, "confirm", token)


@router.get("/subscriptions/manage")
async def manage_page(
    request: Request, token: str = Token, conn: asyncpg.Connection = Depends(deps.connection)
) -> HTMLResponse:
    return await _page(request, conn, "manage", token)


@router.get("/subscriptions/unsubscribe")
async def unsubscribe_page(
    request: Request, token: str = Token, conn: asyncpg.Connection = Depends(deps.connection)
) -> HTMLResponse:
    return await _page(request, conn, "unsubscribe", token)
