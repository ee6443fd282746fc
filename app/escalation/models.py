"""Escalation policies: the contract of escalation.toml and /api/escalation-policies (snake_case in,
camelCase out, as the other resources), and the read shapes of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.incidents.models import MAX_SERVICES, Priority, ServiceId
from app.oncall.models import ScheduleId, Username

PolicyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")]
SubscriptionName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
MAX_LEVELS = 10
MAX_DELAY_S = 7 * 86_400


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _ordered(levels: list[Level]) -> list[Level]:
    delays = [level.delay_seconds for level in levels]
    if delays != sorted(delays):
        raise ValueError("levels must be in order of delay_seconds")
    return levels


Priorities = Annotated[list[Priority], Field(max_length=3), AfterValidator(_unique)]


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_seconds: int = Field(ge=0, le=MAX_DELAY_S, description="from the incident's start")
    subscriptions: Annotated[list[SubscriptionName], Field(max_length=20), AfterValidator(_unique)] = Field(
        default_factory=list, description="notification subscriptions paged at this level, by name"
    )
    users: Annotated[list[Username], Field(max_length=20), AfterValidator(_unique)] = Field(
        default_factory=list, description="users paged at this level (by email), by username"
    )
    schedules: Annotated[list[ScheduleId], Field(max_length=10), AfterValidator(_unique)] = Field(
        default_factory=list, description="on-call schedules: whoever is on call when the level fires is paged"
    )
    priorities: Priorities = Field(default_factory=list, description="only for these priorities; empty: all")

    @model_validator(mode="after")
    def _someone(self) -> Self:
        if not (self.subscriptions or self.users or self.schedules):
            raise ValueError("a level pages at least one subscription, user or schedule")
        return self


class PolicyBody(BaseModel):
    """A policy as escalation.toml and PUT take it (the id is the path's, or the file's `id`)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    position: int = Field(100, ge=0, le=10_000, description="the first matching enabled policy (lowest) applies")
    enabled: bool = True
    priorities: Priorities = Field(default_factory=list, description="incident priorities; empty: all")
    services: Annotated[list[ServiceId], Field(max_length=MAX_SERVICES), AfterValidator(_unique)] = Field(
        default_factory=list, description="incidents affecting any of these services; empty: all"
    )
    levels: Annotated[list[Level], Field(min_length=1, max_length=MAX_LEVELS), AfterValidator(_ordered)]


class PolicyCreate(PolicyBody):
    id: PolicyId


class LevelRead(BaseModel):
    delaySeconds: int
    subscriptions: list[str]
    users: list[str] = Field(default_factory=list)
    schedules: list[str] = Field(default_factory=list)
    priorities: list[str]


class PolicyRead(BaseModel):
    id: str
    name: str
    position: int
    enabled: bool
    priorities: list[str]
    services: list[str]
    levels: list[LevelRead]
    managedBy: Literal["config", "api"]
    createdAt: datetime
    updatedAt: datetime


class PolicyOne(BaseModel):
    policy: PolicyRead


class PolicyList(BaseModel):
    policies: list[PolicyRead]


class Deleted(BaseModel):
    success: bool


class LogEntry(BaseModel):
    at: datetime
    action: Literal["started", "paged", "acknowledged", "reminded", "resumed", "resolved"]
    level: int | None
    actor: str
    details: dict[str, Any]


class EscalationRead(BaseModel):
    incidentId: str
    policyId: str
    startedAt: datetime
    levels: list[LevelRead]
    nextLevel: int | None = Field(description="1-based; null when no level is left to fire")
    nextAt: datetime | None
    acknowledgedAt: datetime | None
    acknowledgedBy: str | None
    stoppedAt: datetime | None
    stopReason: str | None
    timeline: list[LogEntry]


class EscalationOne(BaseModel):
    escalation: EscalationRead | None = Field(description="null: no policy applies to the incident (yet)")
