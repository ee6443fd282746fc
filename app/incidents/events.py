"""What an incident write tells the realtime rooms (after its commit): the records as the API writes
them (`to_public`)."""

from __future__ import annotations

from typing import Any

from app.incidents.models import CommentRead, IncidentRead, UpdateRead
from app.realtime import Hub, incident_room


def _rooms(incident_id: str) -> list[str]:
    return ["incidents", incident_room(incident_id)]


async def created(hub: Hub, incident: IncidentRead) -> None:
    await hub.publish("incident-created", {"incident": incident.to_public()}, _rooms(incident.id))


async def updated(
    hub: Hub, incident: IncidentRead, update: UpdateRead | None, changes: dict[str, dict[str, Any]]
) -> None:
    """What changed always travels: `changes` by field ({"priority": {"from": "P3", "to": "P1"}}, empty
    for a note alone), the new timeline entry as `update` (None for a field edit), and the incident
    without its whole timeline, which keeps the frame small when it fans out to every client."""
    await hub.publish(
        "incident-updated",
        {
            "incidentId": incident.id,
            "update": None if update is None else update.to_public(),
            "incident": incident.model_dump(mode="json", exclude={"updates"}),
            "changes": changes,
            "deleted": False,
        },
        _rooms(incident.id),
    )


async def deleted(hub: Hub, incident: IncidentRead) -> None:
    """A deletion: `deleted` true and the incident as it was (without a timeline), so a client knows
    what left."""
    await hub.publish(
        "incident-updated",
        {
            "incidentId": incident.id,
            "update": None,
            "incident": incident.model_dump(mode="json", exclude={"updates"}),
            "changes": {},
            "deleted": True,
        },
        _rooms(incident.id),
    )


async def commented(hub: Hub, incident_id: str, comment: CommentRead) -> None:
    await hub.publish(
        "incident-comment", {"incidentId": incident_id, "comment": comment.to_public()}, [incident_room(incident_id)]
    )
