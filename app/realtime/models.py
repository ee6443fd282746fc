"""GET /api/realtime/replay as the API shows it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.contract import JsonObject


class ReplayedEvent(BaseModel):
    seq: str = Field(description="the event's id in the replay stream (a Redis stream id)")
    event: str
    rooms: list[str]
    data: JsonObject = Field(description="the event as it was emitted, with its seq")


class Replay(BaseModel):
    events: list[ReplayedEvent] = Field(description="oldest first")
    latest: str = Field(description="the newest seq: the next `since`")
    complete: bool = Field(description="false when events were trimmed from the stream or over the page limit")
