"""Local receivers for the demo's pages, served beside the demo targets (`slamon targets`, under
/_receivers/): a PagerDuty Events API v2 endpoint that keeps each alert's state by dedup key, as
PagerDuty does (trigger → acknowledge → resolve), and plain webhook sinks. Nothing leaves the machine.

- POST /_receivers/pagerduty/v2/enqueue   Events API v2 (202 {"status": "success", ...}; 400 on a bad event)
- POST /_receivers/hooks/{name}           any JSON (a generic webhook, Slack-like, ...)
- GET  /_receivers/pagerduty/alerts       {dedup_key: {"status", "summary", "events": [...]}}
- GET  /_receivers/received               every request received, oldest first"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PREFIX = "/_receivers"
PAGERDUTY_PATH = f"{PREFIX}/pagerduty/v2/enqueue"
ACTIONS = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}


@dataclass
class Alert:
    status: str
    summary: str
    events: list[str] = field(default_factory=list)


class Receivers:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.alerts: dict[str, Alert] = {}

    def _note(self, path: str, request: web.Request, body: Any) -> None:
        self.received.append(
            {
                "path": path,
                "at": time.time(),
                "event": request.headers.get("X-SLAMon-Event", ""),
                "delivery": request.headers.get("X-SLAMon-Delivery", ""),
                "body": body,
            }
        )

    async def _json(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.read())
        except ValueError:
            raise web.HTTPBadRequest(text='{"status": "invalid event", "message": "not JSON"}') from None

    async def pagerduty(self, request: web.Request) -> web.Response:
        """Events API v2 as PagerDuty documents it: routing_key, event_action, dedup_key (required
        but for a trigger, which gets one), payload.summary/source/severity for a trigger."""
        document = await self._json(request)
        event: dict[str, Any] = document if isinstance(document, dict) else {}
        errors = _pagerduty_errors(event)
        if errors:
            body = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
            return web.json_response(body, status=400)
        action: str = event["event_action"]
        key = str(event.get("dedup_key") or f"demo-{len(self.alerts) + 1}")
        self._note(PAGERDUTY_PATH, request, event)
        alert = self.alerts.get(key)
        if action == "trigger" and (alert is None or alert.status == "resolved"):
            self.alerts[key] = alert = Alert("triggered", str(event["payload"]["summary"]))
        if alert is not None and alert.status != "resolved":  # PagerDuty ignores events for a resolved alert
            alert.status = ACTIONS[action] if action != "trigger" else alert.status
            alert.events.append(action)
        return web.json_response({"status": "success", "message": "Event processed", "dedup_key": key}, status=202)

    async def hook(self, request: web.Request) -> web.Response:
        self._note(request.path, request, await self._json(request))
        return web.json_response({"ok": True})

    async def alerts_view(self, request: web.Request) -> web.Response:
        return web.json_response({k: vars(a) for k, a in self.alerts.items()})

    async def received_view(self, request: web.Request) -> web.Response:
        return web.json_response(self.received)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(PAGERDUTY_PATH, self.pagerduty)
        app.router.add_post(PREFIX + "/hooks/{name}", self.hook)
        app.router.add_get(PREFIX + "/pagerduty/alerts", self.alerts_view)
        app.router.add_get(PREFIX + "/received", self.received_view)


def _pagerduty_errors(event: dict[str, Any]) -> list[str]:
    errors = []
    routing_key = event.get("routing_key")
    if not isinstance(routing_key, str) or len(routing_key) != 32:
        errors.append("routing_key must be a 32-character integration key")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("event_action must be trigger, acknowledge or resolve")
    payload = event.get("payload")
    if action == "trigger" and not (
        isinstance(payload, dict) and all(payload.get(k) for k in ("summary", "source", "severity"))
    ):
        errors.append("payload.summary, payload.source and payload.severity are required for a trigger")
    if action in ("acknowledge", "resolve") and not event.get("dedup_key"):
        errors.append("dedup_key is required to acknowledge or resolve")
    return errors
