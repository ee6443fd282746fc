"""Escalation over REST: policies (admin: they decide who is woken), an incident's escalation and its
timeline (staff), and acknowledgement (reporter, admin). docs/api.md, Escalation."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from fastapi import APIRouter, Depends, Path

from app import deps
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.contract import errors
from app.escalation import engine, service
from app.escalation.acknowledge import Acknowledger
from app.escalation.acknowledge import acknowledge as acknowledge_incident
from app.escalation.models import Deleted, EscalationOne, PolicyBody, PolicyCreate, PolicyList, PolicyOne

router = APIRouter(tags=["escalation"], dependencies=[Depends(current_user)])
admin = require("notifications:write")
PolicyIdPath = Path(max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
IncidentIdPath = Path(max_length=50, pattern=r"^[A-Za-z0-9._-]+$")


@router.get(
    "/api/escalation-policies",
    response_model=PolicyList,
    responses=errors(401, 403),
    summary="Escalation policies, in the order they are tried (admin)",
)
async def list_policies(
    actor: Principal = Depends(admin), conn: asyncpg.Connection = Depends(deps.connection)
) -> PolicyList:
    return PolicyList.model_validate({"policies": await service.list_policies(conn)})


@router.post(
    "/api/escalation-policies",
    status_code=201,
    response_model=PolicyOne,
    responses=errors(401, 403, 409, 422),
    summary="Create an escalation policy (admin)",
)
async def create_policy(
    body: PolicyCreate, actor: Principal = Depends(admin), conn: asyncpg.Connection = Depends(deps.connection)
) -> PolicyOne:
    return PolicyOne.model_validate({"policy": await service.create(conn, body, actor)})


@router.get(
    "/api/escalation-policies/{policy_id}",
    response_model=PolicyOne,
    responses=errors(401, 403, 404),
    summary="One escalation policy (admin)",
)
async def get_policy(
    policy_id: str = PolicyIdPath,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> PolicyOne:
    return PolicyOne.model_validate({"policy": await service.get(conn, policy_id)})


@router.put(
    "/api/escalation-policies/{policy_id}",
    response_model=PolicyOne,
    responses=errors(401, 403, 404, 422),
    summary="Replace an escalation policy (admin); running escalations keep the levels they started with",
)
async def update_policy(
    body: PolicyBody,
    policy_id: str = PolicyIdPath,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> PolicyOne:
    return PolicyOne.model_validate({"policy": await service.update(conn, policy_id, body, actor)})


@router.delete(
    "/api/escalation-policies/{policy_id}",
    response_model=Deleted,
    responses=errors(401, 403, 404),
    summary="Delete an escalation policy (admin)",
)
async def delete_policy(
    policy_id: str = PolicyIdPath,
    actor: Principal = Depends(admin),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Deleted:
    await service.delete(conn, policy_id, actor)
    return Deleted(success=True)


@router.get(
    "/api/incidents/{incident_id}/escalation",
    response_model=EscalationOne,
    responses=errors(401, 403, 404),
    summary="An incident's escalation: levels, what fired, acknowledgement, and its timeline (staff)",
)
async def get_escalation(
    incident_id: str = IncidentIdPath,
    user: Principal = Depends(require("incidents:read")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> EscalationOne:
    return EscalationOne.model_validate({"escalation": await engine.read(conn, incident_id)})


@router.post(
    "/api/incidents/{incident_id}/acknowledge",
    response_model=EscalationOne,
    responses=errors(
        401,
        403,
        404,
        409,
        e409={
            "error": "conflict",
            "message": "incident INC-1 is already acknowledged (by alice at 2026-12-03T09:00:00Z)",
        },
    ),
    summary="Acknowledge an incident: its escalation stops at the level reached (reporter, admin)",
)
async def acknowledge(
    incident_id: str = IncidentIdPath,
    user: Principal = Depends(require("incidents:update")),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> EscalationOne:
    await acknowledge_incident(conn, incident_id, Acknowledger(user.username, "api", user), now)
    return EscalationOne.model_validate({"escalation": await engine.read(conn, incident_id)})
