"""Public subscriptions: the API contract of the status page's subscribe form and of the links in
every message (docs/api.md, Public subscriptions)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.contract import ApiModel, Instant
from app.notifications.models import Email, Services, Url

# What a public subscriber may receive: news about incidents and maintenance of the services it chose.
# SLO violations are the operations team's, not the public's.
PUBLIC_EVENTS = (
    "incident.created",
    "incident.updated",
    "incident.status_changed",
    "incident.resolved",
    "maintenance.scheduled",
    "maintenance.started",
    "maintenance.ended",
)
# What the owner of a receiver is sent about the subscription itself (even before it is confirmed).
CONFIRM_EVENT = "subscription.confirm"
REMINDER_EVENT = "subscription.reminder"
PublicKind = Literal["email", "webhook", "slack", "teams"]


class PublicSubscribe(BaseModel):
    """A subscription request from the status page: one receiver, the services (empty: every service)."""

    model_config = ConfigDict(extra="forbid")
    kind: PublicKind
    email: Email | None = Field(None, description="the address to confirm (kind email)")
    url: Url | None = Field(None, description="the receiver to challenge (kind webhook, slack, teams)")
    services: Services = Field(default_factory=list, description="only news about these services; empty: all")

    @model_validator(mode="after")
    def _target_fits_kind(self) -> PublicSubscribe:
        if self.kind == "email" and (self.email is None or self.url is not None):
            raise ValueError("an email subscription takes 'email' and no 'url'")
        if self.kind != "email" and (self.url is None or self.email is not None):
            raise ValueError(f"a {self.kind} subscription takes 'url' and no 'email'")
        return self


class SubscribeAccepted(ApiModel):
    """The same answer whatever the receiver's state (no enumeration of who is subscribed)."""

    accepted: Literal[True] = True
    message: str


class ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=2000, description="the token of the confirmation link")


class ServicesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: Services = Field(description="only news about these services; empty: all")


class PublicSubscriptionRead(ApiModel):
    """What the holder of a manage link sees: never the full address."""

    kind: str
    receiver: str = Field(description="the address or URL, masked (a…@example.com / https://hooks.slack.com/…)")
    services: list[str]
    status: Literal["pending", "confirmed", "unsubscribed"]
    confirmed_at: Instant | None


class PublicSubscriptionOne(ApiModel):
    subscription: PublicSubscriptionRead


class Unsubscribed(ApiModel):
    unsubscribed: Literal[True] = True


# The 429 of the subscribe endpoint (the shared example is the login throttle's).
TOO_MANY = {
    "error": "too_many_requests",
    "message": "too many subscription requests from this address; try again in 60 s",
}
