"""The interface every notification channel implements: validate a subscription's configuration,
render a delivery, send it. One module per channel in this package (docs/architecture.md,
Notification channels, says how to add one).

What stays outside the channels, the same for all of them: subscriptions and their API, the outbox,
the fan-out, claiming an attempt, the delivery log, retries with back-off (delivery.py), the
SSRF-guarded HTTP client (senders.py on app/net) and request signatures (signing.py).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from app.notifications import messages, signing
from app.subscribers.tokens import Links

if TYPE_CHECKING:
    from app.config import Settings
    from app.notifications.senders import Outcome, Senders

Rendered = TypeVar("Rendered")


class ConfigError(ValueError):
    """A subscription this channel cannot send to; `field` names the offending field of the API body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NoOptions(BaseModel):
    """A channel without settings beyond url/email and secret: `options` must be empty."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Config:
    """A subscription's receiver, as the API is about to store it."""

    url: str | None
    email: str | None
    secret: str | None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Attachment:
    """A file an event carries (a customer's statement PDF): email channels attach it."""

    filename: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Delivery:
    """One attempt's input: the event and the subscription it goes to (from queries.CLAIM)."""

    id: str
    event_kind: str
    event_key: str
    occurred_at: datetime
    services: list[str]
    payload: dict[str, Any]
    url: str | None
    email: str | None
    secret: str | None
    options: dict[str, Any]
    allow_private: bool
    # A public subscriber's manage and one-click unsubscribe links, carried by every message to it.
    links: Links | None = None
    attachments: tuple[Attachment, ...] = ()

    @classmethod
    def from_claim(cls, claim: Any, links: Links | None = None, attachments: tuple[Attachment, ...] = ()) -> Delivery:
        return cls(
            id=str(claim["id"]),
            event_kind=claim["event_kind"],
            event_key=claim["event_key"],
            occurred_at=claim["occurred_at"],
            services=list(claim["services"]),
            payload=json.loads(claim["payload"]),
            url=claim["url"],
            email=claim["email"],
            secret=claim["secret"],
            options=json.loads(claim["options"]),
            allow_private=claim["allow_private"],
            links=links,
            attachments=attachments,
        )

    def message(self) -> messages.Message:
        """The human summary of the event (what chat and email channels show)."""
        message = messages.describe(self.event_kind, self.payload)
        if self.links is not None:
            message.facts += [("Manage subscription", self.links.manage), ("Unsubscribe", self.links.unsubscribe)]
        return message


class Channel(ABC, Generic[Rendered]):
    """A kind of receiver. Subclasses set the class attributes and implement render and send."""

    kind: ClassVar[str]  # the subscription's `kind`; the module's name
    label: ClassVar[str]  # how docs and the API summary name it
    address: ClassVar[Literal["url", "email"]] = "url"  # which of the subscription's fields it sends to
    # A secret is generated when none is given, and every request carries X-SLAMon-Signature with it.
    signs: ClassVar[bool] = True
    # The channel's settings beyond url/email/secret (`options` of the API); stored as JSON.
    Options: ClassVar[type[BaseModel]] = NoOptions
    # When set, a subscription without a secret is refused with this message (the secret is the
    # channel's credential: a routing key, an API key, a bot token).
    secret_required: ClassVar[str] = ""

    def check_target(self, url: object, email: object) -> None:
        """The subscription names the one address this channel sends to (ValueError otherwise)."""
        if self.address == "email":
            if email is None or url is not None:
                raise ValueError(f"an {self.kind} subscription takes 'email' and no 'url'")
        elif url is None or email is not None:
            raise ValueError(f"a {self.kind} subscription takes 'url' and no 'email'")

    def validate(self, config: Config) -> dict[str, Any]:
        """Refuse a configuration this channel cannot send to (ConfigError naming the field); returns
        the options as they are stored. Override to check more (call this first)."""
        try:
            self.check_target(config.url, config.email)
        except ValueError as exc:
            raise ConfigError(self.address, str(exc)) from None
        try:
            options = self.Options.model_validate(config.options)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in ("options", *error["loc"]))
            raise ConfigError(where, error["msg"]) from None
        if self.secret_required and not config.secret:
            raise ConfigError("secret", self.secret_required)
        return options.model_dump(mode="json", by_alias=True, exclude_none=True)

    @abstractmethod
    def render(self, delivery: Delivery, settings: Settings) -> Rendered:
        """What is sent for this delivery (built once per attempt; may raise only for a bug)."""

    @abstractmethod
    async def send(self, rendered: Rendered, delivery: Delivery, senders: Senders) -> Outcome:
        """Send once; never raises for a failing receiver (an Outcome says what happened)."""


@dataclass(frozen=True)
class HttpRequest:
    body: bytes
    headers: dict[str, str]


class HttpChannel(Channel[HttpRequest]):
    """A channel that POSTs one JSON document to the subscription's URL, through the SSRF-guarded
    client, with the delivery and event headers and, when the subscription has a secret, a signature."""

    @abstractmethod
    def body(self, delivery: Delivery) -> dict[str, Any]:
        """The JSON document for this delivery."""

    def headers(self, delivery: Delivery) -> dict[str, str]:
        """Headers of the channel's own (credentials, a content type other than JSON)."""
        return {}

    def render(self, delivery: Delivery, settings: Settings) -> HttpRequest:
        raw = messages.encode(self.body(delivery))
        headers = {signing.DELIVERY_HEADER: delivery.id, signing.EVENT_HEADER: delivery.event_kind}
        if self.signs and delivery.secret:
            headers[signing.SIGNATURE_HEADER] = signing.sign(delivery.secret, raw)
        return HttpRequest(raw, headers | self.headers(delivery))

    async def send(self, rendered: HttpRequest, delivery: Delivery, senders: Senders) -> Outcome:
        assert delivery.url is not None  # validate() keeps url set for url channels
        return await senders.post(delivery.url, rendered.body, rendered.headers, delivery.allow_private)
