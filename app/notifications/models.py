"""Subscriptions and the event kinds they filter on: the API contract."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from app.contract import ApiModel, Instant, Pagination
from app.incidents.models import MAX_SERVICES, ServiceId

EVENT_KINDS = (
    "incident.created",
    "incident.status_changed",
    "incident.resolved",
    "slo_violation.opened",
    "slo_violation.closed",
    "maintenance.started",
    "maintenance.ended",
)
EventKind = Literal[
    "incident.created",
    "incident.status_changed",
    "incident.resolved",
    "slo_violation.opened",
    "slo_violation.closed",
    "maintenance.started",
    "maintenance.ended",
]
Kind = Literal["webhook", "slack", "teams", "email"]
WEB_KINDS = ("webhook", "slack", "teams")
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


def _unique(value: list) -> list:
    return list(dict.fromkeys(value))


Url = Annotated[AnyHttpUrl, AfterValidator(_short_url)]
Email = Annotated[str, Field(max_length=320), AfterValidator(_one_address)]
Secret = Annotated[str, Field(min_length=16, max_length=200)]
Events = Annotated[list[EventKind], Field(max_length=len(EVENT_KINDS)), AfterValidator(_unique)]
Services = Annotated[list[ServiceId], Field(max_length=MAX_SERVICES), AfterValidator(_unique)]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: Kind
    url: Url | None = Field(None, description="receiver of webhook, slack and teams subscriptions")
    email: Email | None = Field(None, description="recipient of email subscriptions")
    secret: Secret | None = Field(None, description="HMAC-SHA256 key of X-SLAMon-Signature; generated when not given")
    events: Events = Field(default_factory=list, description="event kinds to send; empty: all")
    services: Services = Field(default_factory=list, description="only events about these services; empty: all")
    allow_private: bool = Field(False, description="allow loopback and private receivers (cloud metadata never)")
    active: bool = True

    @model_validator(mode="after")
    def _target_fits_kind(self):
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
    events: Events | None = None
    services: Services | None = None
    allow_private: bool | None = None
    active: bool | None = None


def check_target(kind: str, url, email) -> None:
    """Web kinds need a url and no email; email needs an address and no url."""
    if kind == "email":
        if email is None or url is not None:
            raise ValueError("an email subscription takes 'email' and no 'url'")
    elif url is None or email is not None:
        raise ValueError(f"a {kind} subscription takes 'url' and no 'email'")


# ---- answers ----


class SubscriptionRead(ApiModel):
    id: int
    name: str
    kind: Kind
    url: str | None
    email: str | None
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
