"""Incident writes: the API contract (PRD §5.1) with the limits every write is checked against."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

Status = Literal["investigating", "identified", "monitoring", "resolved"]
Severity = Literal["low", "medium", "high", "critical"]
Priority = Literal["P1", "P2", "P3"]
ServiceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")]
MAX_SERVICES = 50


def _dedupe(values: list[str] | None) -> list[str] | None:
    return None if values is None else list(dict.fromkeys(values))


def _not_blank(value: str, info: ValidationInfo) -> str:
    if not value.strip():
        raise ValueError(f"{info.field_name} must not be blank")
    return value


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=10_000)
    severity: Severity
    priority: Priority | None = Field(None, description="suggested from severity when omitted")
    status: Status = "investigating"
    affected_services: list[ServiceId] = Field(default_factory=list, max_length=MAX_SERVICES)
    reporter: str | None = Field(None, max_length=100, description="defaults to the signed-in user")
    detection_criteria: str = Field("", max_length=2000)
    note: str | None = Field(None, min_length=1, max_length=10_000, description="first timeline entry")

    dedupe_services = field_validator("affected_services")(_dedupe)

    title_not_blank = field_validator("title")(_not_blank)


class IncidentUpdate(BaseModel):
    """PUT: the fields given change; `version` (or If-Match) is the version the client saw."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=10_000)
    status: Status | None = None
    severity: Severity | None = None
    priority: Priority | None = None
    affected_services: list[ServiceId] | None = Field(None, max_length=MAX_SERVICES)
    reporter: str | None = Field(None, max_length=100)
    detection_criteria: str | None = Field(None, max_length=2000)
    note: str | None = Field(
        None, min_length=1, max_length=10_000, description="required when status changes: the timeline entry"
    )
    version: int | None = Field(None, ge=1, le=2**31 - 1)

    dedupe_services = field_validator("affected_services")(_dedupe)


class StatusUpdateCreate(BaseModel):
    """POST /updates: a timeline entry, optionally moving the status."""

    model_config = ConfigDict(extra="forbid")
    status: Status | None = Field(None, description="omitted or unchanged: a progress note")
    description: str = Field(min_length=1, max_length=10_000)
    version: int | None = Field(None, ge=1, le=2**31 - 1)

    description_not_blank = field_validator("description")(_not_blank)


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=5000)

    message_not_blank = field_validator("message")(_not_blank)


class DraftData(BaseModel):
    """A half-filled form, so lenient (blank allowed) but bounded like the real thing."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=10_000)
    status: Status | None = None
    severity: Severity | None = None
    priority: Priority | None = None
    affected_services: list[ServiceId] | None = Field(None, max_length=MAX_SERVICES)
    reporter: str | None = Field(None, max_length=100)
    detection_criteria: str | None = Field(None, max_length=2000)
    note: str | None = Field(None, max_length=10_000)
    base_version: int | None = Field(None, ge=1, le=2**31 - 1, description="the incident version the draft edits")


class DraftPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: DraftData
