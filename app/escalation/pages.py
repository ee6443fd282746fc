"""The page of an email's acknowledgement link (app/escalation/links.py), on every site: GET shows the
incident and one button and changes nothing; the button's POST acknowledges, as the link's recipient,
through the same acknowledgement as the console's (timeline, audit, the paged told)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from app import deps
from app.errors import ApiError
from app.escalation import links
from app.escalation.acknowledge import Acknowledger, acknowledge
from app.incidents import service as incidents
from app.incidents.models import IncidentRead
from app.web.templating import render

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 4096


def _page(request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
    response = render(request, "console/acknowledge.html", status_code=status_code, **context)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return response


async def _incident(request: Request, conn: asyncpg.Connection, token: str) -> tuple[links.AckLink, IncidentRead]:
    link = links.read(request.app.state.settings.resolved_secret_key(), token)
    incident = await incidents.get(conn, link.incident_id)
    if incident is None:
        raise links.LinkError("the incident of this link no longer exists")
    return link, incident


@router.get("/" + links.PATH)
async def confirm_page(
    request: Request, token: str = Query("", max_length=2000), conn: asyncpg.Connection = Depends(deps.connection)
) -> HTMLResponse:
    try:
        link, incident = await _incident(request, conn, token)
    except links.LinkError as exc:
        return _page(request, 400, state="invalid", message=str(exc))
    return _page(request, state="confirm", token=token, link=link, incident=incident)


@router.post("/" + links.PATH)
async def acknowledge_page(
    request: Request, conn: asyncpg.Connection = Depends(deps.connection), now: datetime = Depends(deps.clock)
) -> HTMLResponse:
    body = await request.body()
    fields = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"), max_num_fields=5)
    token = fields.get("token", [""])[0]
    try:
        link, incident = await _incident(request, conn, token)
    except links.LinkError as exc:
        return _page(request, 400, state="invalid", message=str(exc))
    by = Acknowledger(f"email:{link.recipient}", "email", details={"level": link.level})
    try:
        await acknowledge(conn, link.incident_id, by, now)
    except ApiError as exc:  # resolved, acknowledged already, no escalation: said, not an error page
        return _page(request, 409, state="conflict", message=exc.message, link=link, incident=incident)
    return _page(request, state="done", link=link, incident=incident)
