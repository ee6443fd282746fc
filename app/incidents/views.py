"""Incidents over REST. `router`: the public reads (PRD §6.4). `staff_router`: authenticated by
default; each write names its permission."""

from __future__ import annotations

import re
from datetime import datetime

import asyncpg
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from app import deps
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.config import Settings
from app.contract import Deleted, Success, errors
from app.errors import not_found
from app.incidents import collaboration, events, service
from app.incidents.models import (
    CommentCreate,
    CommentOne,
    CommentPage,
    DraftOne,
    DraftPut,
    IncidentConflictBody,
    IncidentCreate,
    IncidentList,
    IncidentOne,
    IncidentUpdate,
    PastIncidents,
    StatusUpdateCreate,
    UpdateCreated,
)
from app.realtime import hub

router = APIRouter(tags=["incidents"])
staff_router = APIRouter(tags=["incidents"], dependencies=[Depends(current_user)])

IncidentId = Path(max_length=50, pattern=r"^[A-Za-z0-9._-]+$")
DELETED_MESSAGE = "Incident가 성공적으로 삭제되었습니다."

# OpenAPI links: what a client can do next with the incident it created, or with its saved draft (the
# stateful schemathesis test follows them). Writes send the version they saw.
_ONE = "#/paths/~1api~1incidents~1{incident_id}"
_ID, _DRAFT_OF = {"incident_id": "$response.body#/incident/id"}, {"incident_id": "$response.body#/draft/incidentId"}
_SEEN = {"version": "$response.body#/incident/version"}
INCIDENT_LINKS = {
    "GetIncident": {"operationRef": f"{_ONE}/get", "parameters": _ID},
    "EditIncident": {"operationRef": f"{_ONE}/put", "parameters": _ID, "requestBody": _SEEN},
    "AddUpdate": {"operationRef": f"{_ONE}~1updates/post", "parameters": _ID, "requestBody": _SEEN},
    "DeleteIncident": {"operationRef": f"{_ONE}/delete", "parameters": _ID},
    "ListComments": {"operationRef": f"{_ONE}~1comments/get", "parameters": _ID},
    "AddComment": {"operationRef": f"{_ONE}~1comments/post", "parameters": _ID},
    "SaveDraft": {"operationRef": f"{_ONE}~1draft/put", "parameters": _ID},
}
# A write names the version it saw: stale → 409 with the incident as it is now, missing → 428.
WRITE_ERRORS = errors(404, 409, 428, models={409: IncidentConflictBody})
DRAFT_LINKS = {
    "GetDraft": {"operationRef": f"{_ONE}~1draft/get", "parameters": _DRAFT_OF},
    "DiscardDraft": {"operationRef": f"{_ONE}~1draft/delete", "parameters": _DRAFT_OF},
}


@router.get("/api/incidents", response_model=IncidentList, summary="Open incidents with their update timelines")
async def list_incidents(conn: asyncpg.Connection = Depends(deps.connection)) -> IncidentList:
    return IncidentList(incidents=await service.list_active(conn))


@router.get(
    "/api/incidents/past",
    response_model=PastIncidents,
    response_model_exclude_unset=True,
    summary="Incidents by day, newest day first",
)
async def past_incidents(
    days: int = Query(30, ge=1, le=366),
    page: int = Query(1, ge=1, le=366),
    limit: int = Query(10, ge=1, le=100),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> PastIncidents:
    # the days without incidents alone set noIncidentMessage (exclude_unset)
    return await service.past(conn, days, page, limit, now, settings.zone)


@router.get(
    "/api/incidents/{incident_id}",
    response_model=IncidentOne,
    responses=errors(404),
    summary="One incident with its timeline; ETag is its version",
)
async def get_incident(
    incident_id: str, response: Response, conn: asyncpg.Connection = Depends(deps.connection)
) -> IncidentOne:
    incident = await service.get(conn, incident_id)
    if incident is None:
        raise not_found("incident", incident_id)
    response.headers["ETag"] = f'"{incident.version}"'
    return IncidentOne(incident=incident)


def _version(body_version: int | None, if_match: str | None) -> int | None:
    """The version the client saw: the body's `version`, else an If-Match of "N" or W/"N"."""
    if body_version is not None:
        return body_version
    match = re.fullmatch(r'\s*(?:W/)?"?(\d{1,10})"?\s*', if_match or "")
    return int(match.group(1)) if match else None


@staff_router.post(
    "/api/incidents",
    status_code=201,
    response_model=IncidentOne,
    responses={
        201: {"links": INCIDENT_LINKS},
        **errors(404, e404={"error": "not_found", "message": "unknown service 'nope'"}),
    },
    summary="Open an incident (reporter, admin)",
)
async def create_incident(
    body: IncidentCreate,
    request: Request,
    actor: Principal = Depends(require("incidents:create")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> IncidentOne:
    incident = await service.create(conn, body, actor)
    await events.created(hub(request), incident)
    return IncidentOne(incident=incident)


@staff_router.put(
    "/api/incidents/{incident_id}",
    response_model=IncidentOne,
    responses=WRITE_ERRORS,
    summary="Edit an incident at the version you saw (reporter, admin)",
)
async def update_incident(
    body: IncidentUpdate,
    request: Request,
    response: Response,
    incident_id: str = IncidentId,
    if_match: str | None = Header(None, max_length=40),
    actor: Principal = Depends(require("incidents:update")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> IncidentOne:
    incident, update, changes = await service.update(conn, incident_id, body, _version(body.version, if_match), actor)
    await events.updated(hub(request), incident, update, changes)
    response.headers["ETag"] = f'"{incident.version}"'
    return IncidentOne(incident=incident)


@staff_router.post(
    "/api/incidents/{incident_id}/updates",
    status_code=201,
    response_model=UpdateCreated,
    responses=WRITE_ERRORS,
    summary="Add a timeline entry, optionally moving the status (reporter, admin)",
)
async def add_update(
    body: StatusUpdateCreate,
    request: Request,
    response: Response,
    incident_id: str = IncidentId,
    if_match: str | None = Header(None, max_length=40),
    actor: Principal = Depends(require("incidents:update")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> UpdateCreated:
    incident, update, changes = await service.add_update(
        conn, incident_id, body, _version(body.version, if_match), actor
    )
    await events.updated(hub(request), incident, update, changes)
    response.headers["ETag"] = f'"{incident.version}"'
    assert update is not None  # a timeline entry is what this write adds
    return UpdateCreated(update=update, incident=incident)


@staff_router.delete(
    "/api/incidents/{incident_id}", response_model=Deleted, responses=errors(404), summary="Delete an incident (admin)"
)
async def delete_incident(
    request: Request,
    incident_id: str = IncidentId,
    actor: Principal = Depends(require("incidents:delete")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Deleted:
    incident = await service.delete(conn, incident_id, actor)
    await events.deleted(hub(request), incident)
    return Deleted(success=True, message=DELETED_MESSAGE)


@staff_router.get(
    "/api/incidents/{incident_id}/comments",
    response_model=CommentPage,
    responses=errors(404),
    summary="Comments, oldest first (signed in)",
)
async def list_comments(
    incident_id: str = IncidentId,
    page: int = Query(1, ge=1, le=10_000),
    limit: int = Query(100, ge=1, le=200),
    actor: Principal = Depends(require("incidents:read")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> CommentPage:
    return await collaboration.list_comments(conn, incident_id, page, limit)


@staff_router.post(
    "/api/incidents/{incident_id}/comments",
    status_code=201,
    response_model=CommentOne,
    responses=errors(404),
    summary="Comment (reporter, admin)",
)
async def add_comment(
    body: CommentCreate,
    request: Request,
    incident_id: str = IncidentId,
    actor: Principal = Depends(require("incidents:comment")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> CommentOne:
    comment = await collaboration.add_comment(conn, incident_id, body.message, actor)
    await events.commented(hub(request), incident_id, comment)
    return CommentOne(comment=comment)


async def _get_draft(conn: asyncpg.Connection, actor: Principal, key: str) -> DraftOne:
    draft = await collaboration.get_draft(conn, actor.user_id, key)
    if draft is None:
        raise not_found("draft", key)
    return DraftOne(draft=draft)


@staff_router.get(
    "/api/incidents/drafts/new", response_model=DraftOne, responses=errors(404), summary="Your draft of a new incident"
)
async def get_new_draft(
    actor: Principal = Depends(require("incidents:draft")), conn: asyncpg.Connection = Depends(deps.connection)
) -> DraftOne:
    return await _get_draft(conn, actor, collaboration.NEW_DRAFT)


@staff_router.put("/api/incidents/drafts/new", response_model=DraftOne, summary="Save your draft of a new incident")
async def put_new_draft(
    body: DraftPut,
    actor: Principal = Depends(require("incidents:draft")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> DraftOne:
    draft = await collaboration.save_draft(
        conn, actor.user_id, collaboration.NEW_DRAFT, body.data.model_dump(exclude_none=True)
    )
    return DraftOne(draft=draft)


@staff_router.delete(
    "/api/incidents/drafts/new", response_model=Success, summary="Discard your draft of a new incident"
)
async def delete_new_draft(
    actor: Principal = Depends(require("incidents:draft")), conn: asyncpg.Connection = Depends(deps.connection)
) -> Success:
    return Success(success=await collaboration.delete_draft(conn, actor.user_id, collaboration.NEW_DRAFT))


@staff_router.get(
    "/api/incidents/{incident_id}/draft",
    response_model=DraftOne,
    responses=errors(404),
    summary="Your draft of edits to this incident",
)
async def get_draft(
    incident_id: str = IncidentId,
    actor: Principal = Depends(require("incidents:draft")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> DraftOne:
    return await _get_draft(conn, actor, incident_id)


@staff_router.put(
    "/api/incidents/{incident_id}/draft",
    response_model=DraftOne,
    responses={200: {"links": DRAFT_LINKS}, **errors(404)},
    summary="Save your draft of edits to this incident",
)
async def put_draft(
    body: DraftPut,
    incident_id: str = IncidentId,
    actor: Principal = Depends(require("incidents:draft")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> DraftOne:
    draft = await collaboration.save_draft(conn, actor.user_id, incident_id, body.data.model_dump(exclude_none=True))
    return DraftOne(draft=draft)


@staff_router.delete(
    "/api/incidents/{incident_id}/draft", response_model=Success, summary="Discard your draft of edits to this incident"
)
async def delete_draft(
    incident_id: str = IncidentId,
    actor: Principal = Depends(require("incidents:draft")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Success:
    return Success(success=await collaboration.delete_draft(conn, actor.user_id, incident_id))
