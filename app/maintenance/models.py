"""Maintenance windows and service edits: the API contract."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.incidents.models import MAX_SERVICES, ServiceId
from app.services.models import CheckConfig, Tier


class MaintenanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=10_000)
    affected_services: list[ServiceId] = Field(min_length=1, max_length=MAX_SERVICES)
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def ends_after_start(self):
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.starts_at.year < 2000 or self.ends_at.year > 2100:
            raise ValueError("window must lie between the years 2000 and 2100")
        self.affected_services = list(dict.fromkeys(self.affected_services))
        return self


class MaintenanceUpdate(MaintenanceCreate):
    """PUT replaces the whole window."""


class MaintenanceRead(BaseModel):
    id: int
    title: str
    description: str
    affectedServices: list[str]
    startsAt: datetime
    endsAt: datetime
    createdAt: datetime


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
