"""Maintenance windows and service edits: the API contract."""

from __future__ import annotations

from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.contract import ApiModel, Instant, Pagination
from app.incidents.models import MAX_SERVICES, ServiceId
from app.services.models import CheckConfig, ServiceConfigRead, Tier


class MaintenanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=10_000)
    affected_services: list[ServiceId] = Field(min_length=1, max_length=MAX_SERVICES)
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def ends_after_start(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.starts_at.year < 2000 or self.ends_at.year > 2100:
            raise ValueError("window must lie between the years 2000 and 2100")
        self.affected_services = list(dict.fromkeys(self.affected_services))
        return self


class MaintenanceUpdate(MaintenanceCreate):
    """PUT replaces the whole window."""


class ServiceEdit(BaseModel):
    """Fields of a service an admin may change at runtime. services.toml stays the source of truth:
    `slamon migrate` writes its values back over these."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    interval_s: int | None = Field(None, ge=10, le=86_400)
    timeout_s: float | None = Field(None, ge=0.01, le=120, description="seconds, stored to the hundredth")
    latency_target_ms: int | None = Field(None, gt=0, le=600_000)
    tier: Tier | None = None
    check: CheckConfig | None = None


# ---- answers ----

WINDOW_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "title": "Database upgrade",
    "description": "PostgreSQL minor upgrade",
    "affectedServices": ["face-compare"],
    "startsAt": "2026-12-10T01:00:00+00:00",
    "endsAt": "2026-12-10T02:00:00+00:00",
    "createdAt": "2026-12-01T09:00:00.123456+00:00",
    "announcedAt": "2026-12-01T09:00:00.123456+00:00",
    "excludedFromSla": True,
    "exclusionReason": "announced 208.0 h ahead (at least 72 h): left out of the SLA figures",
}


class WindowRead(ApiModel):
    id: int
    title: str
    description: str
    affected_services: list[str]
    starts_at: Instant
    ends_at: Instant
    created_at: Instant
    announced_at: Instant = Field(description="when it was scheduled: the evidence of the notice")
    excluded_from_sla: bool
    exclusion_reason: str


class WindowOne(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"window": WINDOW_EXAMPLE}]})
    window: WindowRead


class WindowPage(ApiModel):
    windows: list[WindowRead]
    pagination: Pagination


class ServiceEdited(BaseModel):
    """PUT /api/services/{id}: the service as configured now, and how long the edit lasts."""

    service: ServiceConfigRead
    note: str
