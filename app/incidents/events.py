"""What an incident write tells the realtime rooms (after its commit)."""

from __future__ import annotations

from app.realtime import Hub, incident_room


def _rooms(incident_id: str) -> list[str]:
    return ["incidents", incident_room(incident_id)]


async def created(hub: Hub, incident: dict) -> None:
    await hub.publish("incident-created", {"incident": incident}, _rooms(incident["id"]))


async def updated(hub: Hub, incident: dict, update: dict | None) -> None:
    # The new timeline entry travels as `update`; the incident without its whole timeline keeps the
    # frame small when it fans out to every client.
    summary = {k: v for k, v in incident.items() if k != "updates"}
    await hub.publish(
        "incident-updated",
        {"incidentId": incident["id"], "update": update, "incident": summary},
        _rooms(incident["id"]),
    )


async def deleted(hub: Hub, incident_id: str) -> None:
    await hub.publish(
        "incident-updated",
        {"incidentId": incident_id, "update": None, "incident": None, "deleted": True},
        _rooms(incident_id),
    )


async def commented(hub: Hub, incident_id: str, comment: dict) -> None:
    await hub.publish("incident-comment", {"incidentId": incident_id, "comment": comment}, [incident_room(incident_id)])
