"""The paging services call back (docs/api.md, Paging callbacks): an acknowledgement (or resolution) in
PagerDuty or Opsgenie acknowledges our incident, so escalation stops whichever side the responder used.

- PagerDuty webhooks v3: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>` with the webhook
  subscription's secret (several, comma-separated, while PagerDuty rotates it); `incident.acknowledged`
  and `incident.resolved` name our incident by the dedup key we triggered it with (`incident_key`).
- Opsgenie's webhook integration: a shared token in a custom header (Opsgenie signs nothing);
  `Acknowledge` and `Close` name our incident by the alert's alias.

Each verified callback is audited, whatever it changes; a refused one is answered 401 and logged. A
callback for an incident already acknowledged or resolved changes nothing and is answered 200 (the
services retry anything else)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel

from app import deps
from app.audit import service as audit
from app.contract import errors
from app.errors import ApiError
from app.escalation.acknowledge import Acknowledger, Via, acknowledge

log = logging.getLogger(__name__)
router = APIRouter(tags=["escalation"])
PREFIX = "slamon-incident-"  # our dedup key and alias: then the incident id (channels/pagerduty.py)
MAX_BODY_BYTES = 256 * 1024
PAGERDUTY_ACTIONS = {"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}
OPSGENIE_ACTIONS = {"Acknowledge": "acknowledged", "Close": "resolved"}
OPSGENIE_TOKEN_HEADER = "X-SLAMon-Callback-Token"


class CallbackResult(BaseModel):
    result: Literal["acknowledged", "unchanged", "ignored"]
    incidentId: str | None
    message: str


def pagerduty_signature_ok(secret: str, header: str, body: bytes) -> bool:
    """True when one of the header's v1 signatures is the body's HMAC-SHA256 under `secret`."""
    expected = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))


def _json(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"callback body over {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(422, "validation_error", "body: not JSON") from None
    if not isinstance(document, dict):
        raise ApiError(422, "validation_error", "body: a JSON object is expected")
    return document


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    """document[key] when it is a JSON object, else empty (a field missing or of another type)."""
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def _refused(service: str, reason: str) -> ApiError:
    log.warning("paging callback refused: %s: %s", service, reason, extra={"job": "callback"})
    return ApiError(401, "unauthorized", f"{service} callback refused: {reason}")


async def _apply(
    conn: asyncpg.Connection,
    service: Via,
    what: str | None,
    key: object,
    actor: str,
    event: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Acknowledge the incident `key` names for a verified callback; audit it whatever the outcome."""
    incident_id = key[len(PREFIX) :] if isinstance(key, str) and key.startswith(PREFIX) else None
    if what is None or incident_id is None:
        result: dict[str, Any] = {
            "result": "ignored",
            "incidentId": incident_id,
            "message": "not an event about one of our pages",
        }
    else:
        by = Acknowledger(f"{service}:{actor}"[:100], service, details={"event": event})
        try:
            await acknowledge(conn, incident_id, by, now)
            result = {"result": "acknowledged", "incidentId": incident_id, "message": f"{what} in {service}"}
        except ApiError as exc:  # unknown, resolved or acknowledged already: nothing to change
            result = {"result": "unchanged", "incidentId": incident_id, "message": exc.message}
    await audit.record(
        conn,
        f"escalation.callback.{service}",
        actor_name=f"{service}:{actor}"[:100],
        target_type="incident",
        target_id=incident_id or "",
        details={**event, "result": result["result"]},
    )
    return result


@router.post(
    "/api/escalation/callbacks/pagerduty",
    response_model=CallbackResult,
    responses=errors(401, 404, 413, 422),
    summary="PagerDuty webhooks v3: an acknowledgement or resolution there acknowledges the incident here",
)
async def pagerduty(
    request: Request,
    signature: str = Header("", alias="X-PagerDuty-Signature", max_length=2000),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> dict[str, Any]:
    secret = request.app.state.settings.pagerduty_webhook_secret
    if not secret:
        raise ApiError(404, "not_found", "PagerDuty callbacks are off: SLAMON_PAGERDUTY_WEBHOOK_SECRET is not set")
    body = await request.body()
    if not pagerduty_signature_ok(secret, signature, body[:MAX_BODY_BYTES]):
        raise _refused("pagerduty", "X-PagerDuty-Signature does not sign the body with the webhook secret")
    event = _object(_json(body), "event")
    data, agent = _object(event, "data"), _object(event, "agent")
    kind = event.get("event_type")
    what = PAGERDUTY_ACTIONS.get(kind) if isinstance(kind, str) else None
    summary = {"eventId": event.get("id"), "eventType": kind, "pagerdutyIncident": data.get("id")}
    actor = str(agent.get("summary") or agent.get("id") or "PagerDuty")
    return await _apply(conn, "pagerduty", what, data.get("incident_key"), actor, summary, now)


@router.post(
    "/api/escalation/callbacks/opsgenie",
    response_model=CallbackResult,
    responses=errors(401, 404, 413, 422),
    summary="Opsgenie webhook integration: Acknowledge or Close there acknowledges the incident here",
)
async def opsgenie(
    request: Request,
    token: str = Header("", alias=OPSGENIE_TOKEN_HEADER, max_length=500),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> dict[str, Any]:
    expected = request.app.state.settings.opsgenie_callback_token
    if not expected:
        raise ApiError(404, "not_found", "Opsgenie callbacks are off: SLAMON_OPSGENIE_CALLBACK_TOKEN is not set")
    if not hmac.compare_digest(expected.encode(), token.encode()):
        raise _refused("opsgenie", f"{OPSGENIE_TOKEN_HEADER} is not the configured token")
    document = _json(await request.body())
    alert = _object(document, "alert")
    action = document.get("action")
    what = OPSGENIE_ACTIONS.get(action) if isinstance(action, str) else None
    summary = {"action": action, "alertId": alert.get("alertId")}
    actor = str(alert.get("username") or "Opsgenie")
    return await _apply(conn, "opsgenie", what, alert.get("alias"), actor, summary, now)
