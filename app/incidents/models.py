"""Incident writes: the API contract (PRD §5.1) with the limits every write is checked against."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from app.contract import ApiModel, ErrorBody, JsonObject, Pagination, UtcInstant

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


# ---- answers (camelCase on the wire: app.contract.ApiModel) ----

INCIDENT_EXAMPLE: dict[str, Any] = {
    "id": "INC-20261201-001",
    "title": "Face compare answers slowly",
    "description": "P95 above 1 s since 10:02",
    "status": "resolved",
    "severity": "high",
    "priority": "P2",
    "reporter": "alice",
    "detectionCriteria": "P95 > 1000 ms for 5 minutes",
    "affectedServices": ["face-compare"],
    "version": 2,
    "createdAt": "2026-12-01T01:02:03Z",
    "updatedAt": "2026-12-01T02:07:03Z",
    "resolvedAt": "2026-12-01T02:07:03Z",
    "resolutionTime": "1h 5m",
    "updates": [
        {
            "id": "1",
            "incidentId": "INC-20261201-001",
            "status": "investigating",
            "description": "Looking into it",
            "author": "alice",
            "createdAt": "2026-12-01T01:02:03Z",
        },
        {
            "id": "2",
            "incidentId": "INC-20261201-001",
            "status": "resolved",
            "description": "Rolled back the release",
            "author": "alice",
            "createdAt": "2026-12-01T02:07:03Z",
        },
    ],
}


class PublicRecord(ApiModel):
    """What the incidents services hand out (an incident, a timeline entry, a comment, a draft): read
    by attribute in Python, camelCase with `utc_iso` instants as JSON (`to_public`: the realtime
    frames, outbox payloads and page data carry exactly what the API answers)."""

    model_config = ConfigDict(frozen=True)

    def to_public(self) -> JsonObject:
        return self.model_dump(mode="json")


class UpdateRead(PublicRecord):
    """A timeline entry."""

    id: str
    incident_id: str
    status: Status
    description: str
    author: str
    created_at: UtcInstant


class IncidentRead(PublicRecord):
    """An incident with its timeline, oldest entry first; `version` is what writes send back."""

    id: str
    title: str
    description: str
    status: Status
    severity: Severity
    priority: Priority
    reporter: str
    detection_criteria: str
    affected_services: list[str]
    version: int
    created_at: UtcInstant
    updated_at: UtcInstant
    resolved_at: UtcInstant | None
    resolution_time: str | None = Field(description="'1d 2h 3m' from opening to resolution")
    updates: list[UpdateRead]

    def newest_update_only(self) -> IncidentRead:
        """The incident with the newest entry of its timeline alone: what notifications carry."""
        return self.model_copy(update={"updates": self.updates[:1]})


class IncidentList(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"incidents": [INCIDENT_EXAMPLE]}]})
    incidents: list[IncidentRead]


class IncidentOne(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"incident": INCIDENT_EXAMPLE}]})
    incident: IncidentRead


class UpdateCreated(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"update": INCIDENT_EXAMPLE["updates"][0], "incident": INCIDENT_EXAMPLE}]}
    )
    update: UpdateRead
    incident: IncidentRead


class IncidentPage(ApiModel):
    """One page of the console's list (any status)."""

    incidents: list[IncidentRead]
    pagination: Pagination


class PastDay(ApiModel):
    date: str = Field(description="a local date of the reporting time zone, YYYY-MM-DD")
    incidents: list[IncidentRead] | None
    no_incident_message: str | None = Field(None, description="only on a day without incidents")


class PastPagination(ApiModel):
    page: int
    limit: int
    total_days: int
    total_pages: int
    has_next: bool


class PastIncidents(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "days": [
                        {"date": "2026-12-01", "incidents": [INCIDENT_EXAMPLE]},
                    ],
                    "pagination": {"page": 1, "limit": 10, "totalDays": 30, "totalPages": 3, "hasNext": True},
                }
            ]
        }
    )
    days: list[PastDay]
    pagination: PastPagination


class IncidentConflictBody(ErrorBody):
    """409 on a write at a stale version: the incident as it is now, to merge with."""

    current: IncidentRead | None = None


class CommentRead(PublicRecord):
    id: str
    incident_id: str
    user_id: str | None
    user_name: str
    message: str
    timestamp: UtcInstant


class CommentOne(ApiModel):
    comment: CommentRead


class CommentPage(ApiModel):
    comments: list[CommentRead]
    pagination: Pagination


class DraftRead(PublicRecord):
    incident_id: str = Field(description="the incident's id, or 'new' for a new incident")
    data: JsonObject = Field(description="the saved form, as sent (DraftData)")
    updated_at: UtcInstant


class DraftOne(ApiModel):
    draft: DraftRead
