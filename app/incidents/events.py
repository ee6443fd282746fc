"""What an incident write tells the realtime rooms (after its commit)."""

from __future__ import annotations

from typing import Any

from app.incidents.models import IncidentJson
from app.realtime import Hub, incident_room


def _rooms(incident_id: str) -> list[str]:
    return ["incidents", incident_room(incident_id)]


async def created(hub: Hub, incident: IncidentJson) -> None:
    await hub.publish("incident-created", {"incident": incident}, _rooms(incident["id"]))


async def updated(
    hub: Hub, incident: IncidentJson, update: IncidentJson | None, changes: dict[str, dict[str, Any]]
) -> None:
    """What changed always travels: `changes` by field ({"priority": {"from": "P3", "to": "P1"}}, empty
    for a note alone), the new timeline entry as `update` (None for a field edit), and the incident
    without its whole timeline, which keeps the frame small when it fans out to every client."""
    summary = {k: v for k, v in incident.items() if k != "updates"}
    await hub.publish(
        "incident-updated",
        {"incidentId": incident["id"], "update": update, "incident": summary, "changes": changes, "deleted": False},
        _rooms(incident["id"]),
    )


async def deleted(hub: Hub, incident: IncidentJson) -> None:
    """A deletion: `deleted` true and the incident as it was, so a client knows what left."""
    await hub.publish(
        "incident-updated",
        {"incidentId": incident["id"], "update": None, "incident": incident, "changes": {}, "deleted": True},
        _rooms(incident["id"]),
    )


async def commented(hub: Hub, incident_id: str, comment: IncidentJson) -> None:
    await hub.publish("incident-comment", {"incidentId": incident_id, "comment": comment}, [incident_room(incident_id)])
