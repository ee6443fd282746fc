"""Subscriptions and the event kinds they filter on: the API contract."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from app.contract import ApiModel, Instant, JsonObject, Pagination
from app.incidents.models import MAX_SERVICES, ServiceId
from app.notifications.channels import CHANNELS, KINDS

EVENT_KINDS = (
    "incident.created",
    "incident.updated",
    "incident.status_changed",
    "incident.resolved",
    "slo_violation.opened",
    "slo_violation.closed",
    "slo_forecast.opened",
    "slo_forecast.closed",
    "maintenance.scheduled",
    "maintenance.started",
    "maintenance.ended",
)
# Sent only to the subscriptions an escalation names or paged (app/escalation), never fanned out;
# a subscription may still filter on them (e.g. a pager that takes escalations only).
ESCALATION_EVENT_KINDS = (
    "escalation.paged",
    "escalation.acknowledged",
    "escalation.reminder",
    "escalation.resolved",
)
EventKind = Literal[
    "incident.created",
    "incident.updated",
    "incident.status_changed",
    "incident.resolved",
    "slo_violation.opened",
    "slo_violation.closed",
    "slo_forecast.opened",
    "slo_forecast.closed",
    "maintenance.scheduled",
    "maintenance.started",
    "maintenance.ended",
    "escalation.paged",
    "escalation.acknowledged",
    "escalation.reminder",
    "escalation.resolved",
]
if TYPE_CHECKING:
    Kind = str
else:  # the registered channels (app/notifications/channels/), as an enum of the OpenAPI
    Kind = Literal[KINDS]
OPTIONS_MAX_CHARS = 4096  # as JSON; the column's bound (sql/165_subscription_channels.sql)
# One address, as SMTP takes it: no display name, no spaces or angle brackets (header injection).
EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})$")


def _short_url(value: AnyHttpUrl) -> AnyHttpUrl:
    if len(str(value)) > 2048:
        raise ValueError("url longer than 2048 characters")
    return value


def _one_address(value: str) -> str:
    if not EMAIL.match(value):
        raise ValueError("not a single email address (name@domain)")
    return value


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(_has_nul(v) for v in value)


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, ensure_ascii=False)) > OPTIONS_MAX_CHARS:
        raise ValueError(f"options longer than {OPTIONS_MAX_CHARS} characters as JSON")
    if _has_nul(value):  # PostgreSQL's jsonb holds no NUL
        raise ValueError("options contain a NUL character")
    return value


def _unique(value: list[str]) -> list[str]:
    return list(dict.fromkeys(value))


Url = Annotated[AnyHttpUrl, AfterValidator(_short_url)]
Email = Annotated[str, Field(max_length=320), AfterValidator(_one_address)]
Secret = Annotated[str, Field(min_length=16, max_length=200)]
Options = Annotated[
    dict[str, Any],
    Field(
        max_length=50,
        description="settings of the channel beyond url/email/secret, checked by the channel (docs/api.md)",
    ),
    AfterValidator(_storable),
]
Events = Annotated[
    list[EventKind], Field(max_length=len(EVENT_KINDS) + len(ESCALATION_EVENT_KINDS)), AfterValidator(_unique)
]
Services = Annotated[list[ServiceId], Field(max_length=MAX_SERVICES), AfterValidator(_unique)]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: Kind
    url: Url | None = Field(None, description="receiver of every channel but email")
    email: Email | None = Field(None, description="recipient of email subscriptions")
    secret: Secret | None = Field(None, description="HMAC-SHA256 key of X-SLAMon-Signature; generated when not given")
    options: Options = Field(default_factory=dict)
    events: Events = Field(default_factory=list, description="event kinds to send; empty: all")
    services: Services = Field(default_factory=list, description="only events about these services; empty: all")
    allow_private: bool = Field(False, description="allow loopback and private receivers (cloud metadata never)")
    active: bool = True

    @model_validator(mode="after")
    def _target_fits_kind(self) -> Self:
        check_target(self.kind, self.url, self.email)
        return self


class SubscriptionUpdate(BaseModel):
    """Only the fields given change; `secret` rotates the signing key."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    kind: Kind | None = None
    url: Url | None = None
    email: Email | None = None
    secret: Secret | None = None
    options: Options | None = None
    events: Events | None = None
    services: Services | None = None
    allow_private: bool | None = None
    active: bool | None = None


def check_target(kind: str, url: object, email: object) -> None:
    """The subscription names the one address its channel sends to: a URL, or an email address."""
    CHANNELS[kind].check_target(url, email)


# ---- answers ----


class SubscriptionRead(ApiModel):
    id: int
    name: str
    kind: str = Field(description="a registered channel (app/notifications/channels/), which may be added at run time")
    url: str | None
    email: str | None
    options: JsonObject = Field(description="the channel's own settings (app/notifications/channels/)")
    events: list[str] = Field(description="empty: every event")
    services: list[str] = Field(description="empty: every service")
    allow_private: bool
    active: bool
    signed: bool
    created_at: Instant
    updated_at: Instant
    secret: str | None = Field(None, description="only when created or changed: the signing key, shown once")


class SubscriptionOne(ApiModel):
    subscription: SubscriptionRead


class SubscriptionPage(ApiModel):
    subscriptions: list[SubscriptionRead]
    pagination: Pagination


class TestSent(ApiModel):
    delivery_id: str
    event_key: str


class AttemptRead(ApiModel):
    attempt: int
    outcome: Literal["succeeded", "failed", "unfinished"]
    started_at: Instant
    finished_at: Instant | None
    status_code: int | None
    error: str | None
    response_body: str | None = Field(description="the first 4 KiB of the answer")


class DeliveryRead(ApiModel):
    id: str
    event: str
    event_key: str
    occurred_at: Instant
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: Instant | None
    last_status_code: int | None
    last_error: str | None
    created_at: Instant
    completed_at: Instant | None
    log: list[AttemptRead]


class DeliveryPage(ApiModel):
    deliveries: list[DeliveryRead]
    pagination: Pagination
