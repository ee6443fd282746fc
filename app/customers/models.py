"""Customer contracts: what customers.toml and /api/customers accept, and what the API answers
(docs/api.md, Customers)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from iso4217 import Currency
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.contract import ApiModel, JsonObject, Number, Timestamp
from app.notifications.models import Email
from app.reports.models import RevisionRead
from app.services.models import Tier

MAX_SERVICES = 100
MAX_CONTACTS = 20
CustomerId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")]
ServiceId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")]


def minor_unit(code: str) -> int:
    """The currency's minor unit (decimal places) per ISO 4217, from the `iso4217` package's data;
    ValueError for a code ISO 4217 does not define or one without a minor unit (gold, testing, ...)."""
    try:
        exponent = Currency(code).exponent
    except ValueError:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code") from None
    if exponent is None:
        raise ValueError(f"{code!r} has no minor unit in ISO 4217 (not a currency a fee is paid in)")
    return exponent


def _currency(value: str) -> str:
    minor_unit(value)
    return value


def _unique(value: list[str]) -> list[str]:
    return list(dict.fromkeys(value))


def _fee(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


class CustomerConfig(BaseModel):
    """A customer: the fields of a customers.toml entry and of POST/PUT /api/customers."""

    model_config = ConfigDict(extra="forbid")
    id: CustomerId
    name: str = Field(min_length=1, max_length=200)
    contacts: Annotated[list[Email], Field(max_length=MAX_CONTACTS), AfterValidator(_unique)] = Field(
        default_factory=list
    )
    tier: Tier
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_currency)]
    # a decimal string ("1250.00") or a number; stored exactly (numeric)
    monthly_fee: Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), allow_inf_nan=False), AfterValidator(_fee)]
    starts_on: date
    services: Annotated[list[ServiceId], Field(min_length=1, max_length=MAX_SERVICES), AfterValidator(_unique)]

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("monthly_fee")
    @classmethod
    def _fee_fits_currency(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        currency = info.data.get("currency")  # absent when the currency itself was invalid
        if currency is None:
            return value
        places = minor_unit(currency)
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise ValueError(f"{value} has more decimals than {currency}'s minor unit ({places})")
        return value


class OverrideCreate(BaseModel):
    """A temporary relaxation of the contract's availability target (the SLA document's dynamic SLA
    adjustment), counted only when recorded at least the notice period before it starts."""

    model_config = ConfigDict(extra="forbid")
    availability: Annotated[Decimal, Field(gt=0, le=100, max_digits=7, decimal_places=4, allow_inf_nan=False)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _ordered(self) -> OverrideCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


# ---- answers ----
# A customer and its overrides are snake_case on the wire, like the customers.toml entry and the
# request bodies they mirror field for field (the exception of a service's configuration,
# docs/api.md#casing); the envelopes and the statements are camelCase (ApiModel).

CUSTOMER_EXAMPLE: dict[str, Any] = {
    "id": "acme",
    "name": "ACME Corp.",
    "contacts": ["billing@acme.example"],
    "tier": "enterprise",
    "monthly_fee": "12500.00",
    "currency": "EUR",
    "starts_on": "2026-01-01",
    "services": ["face-compare", "id-recognition"],
    "managed_by": "api",
    "created_at": "2026-12-01T09:00:00.123456Z",
    "updated_at": "2026-12-01T09:00:00.123456Z",
}
OVERRIDE_EXAMPLE: dict[str, Any] = {
    "id": 3,
    "availability": "99.5",
    "starts_at": "2026-12-24T00:00:00Z",
    "ends_at": "2027-01-02T00:00:00Z",
    "reason": "year-end traffic",
    "announced_at": "2026-12-01T09:00:00.123456Z",
    "effective": True,
    "effectiveness_note": "announced 543.0 h before it starts (notice: 72 h)",
}


class CustomerRead(BaseModel):
    """A customer's contract. snake_case like the customers.toml entry it mirrors: an exception to the
    API's camelCase (docs/api.md#casing)."""

    id: str
    name: str
    contacts: list[str]
    tier: Tier
    monthly_fee: str = Field(description="a decimal string with the exact digits stored")
    currency: str = Field(description="ISO 4217")
    starts_on: str = Field(description="YYYY-MM-DD", json_schema_extra={"format": "date"})
    services: list[str]
    managed_by: Literal["config", "api"] = Field(description="config: customers.toml owns it; api: the API does")
    created_at: Timestamp
    updated_at: Timestamp


class OverrideRead(BaseModel):
    """A target override as announced. snake_case like its request body (OverrideCreate)."""

    id: int
    availability: str = Field(description="the availability target in percent, a decimal string")
    starts_at: Timestamp
    ends_at: Timestamp
    reason: str
    announced_at: Timestamp = Field(description="when it was recorded: the evidence of the notice")
    effective: bool = Field(description="announced at least the notice period ahead: the target counts")
    effectiveness_note: str


class CustomerList(ApiModel):
    customers: list[CustomerRead]


class CustomerOne(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"customer": CUSTOMER_EXAMPLE}]})
    customer: CustomerRead


class CustomerDetail(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"customer": CUSTOMER_EXAMPLE, "overrides": [OVERRIDE_EXAMPLE]}]}
    )
    customer: CustomerRead
    overrides: list[OverrideRead] = Field(description="oldest start first")


class OverrideOne(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"override": OVERRIDE_EXAMPLE}]})
    override: OverrideRead


class QuotaUse(ApiModel):
    """A service's calls per day against its tier's daily request quota: a statement's `quota` section
    and the usage trends' capacity (docs/sla-math.md, Customers)."""

    daily_requests: int | None = Field(description="the tier's daily request quota; null: unlimited")
    peak_day: str | None = Field(description="the busiest day (the earliest of equals)")
    peak_requests: int
    peak_percent_of_quota: Number | None
    days_over_quota: int = Field(description="days with calls above the quota")
    dates_over_quota: list[str]


STATEMENT_REVISION_EXAMPLE: dict[str, Any] = {
    "revision": 2,
    "frozenAt": "2026-12-02T01:00:00Z",
    "reason": "monthly fee corrected",
    "author": "alice",
}


class StatementRevisionList(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customerId": "acme",
                    "month": "2026-11",
                    "revisions": [
                        {**STATEMENT_REVISION_EXAMPLE, "revision": 1, "reason": "", "author": ""},
                        STATEMENT_REVISION_EXAMPLE,
                    ],
                }
            ]
        }
    )
    customer_id: str
    month: str
    revisions: list[RevisionRead] = Field(description="oldest first")


class StatementRevisionCreated(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"customerId": "acme", "month": "2026-11", **STATEMENT_REVISION_EXAMPLE}]}
    )
    customer_id: str
    month: str
    revision: int
    frozen_at: Timestamp
    reason: str
    author: str


class StatementMeta(ApiModel):
    """Which statement this is: a closed month's frozen revision (`final`) or the running month's live
    figures (`provisional`, with `asOf`)."""

    model_config = ConfigDict(extra="allow")
    customer_id: str
    month: str
    status: Literal["final", "provisional", "computed"] = Field(
        description="computed: a quarter, year or range that has ended, computed when asked (never frozen)"
    )
    revision: int | None
    frozen_at: Timestamp | None = None
    reason: str | None = None
    author: str | None = None
    as_of: Timestamp | None = None
    latest_revision: int | None
    revisions: list[RevisionRead]


class StatementDocument(ApiModel):
    """`{month}.json`: the customer's statement (docs/api.md, Customers). Each service's section is
    its monthly report's for the month; a frozen revision keeps the sections of the release that
    froze it (`version`), so they are described here as objects, not field by field."""

    model_config = ConfigDict(extra="allow")
    version: int
    statement: StatementMeta
    customer: JsonObject
    period: JsonObject
    summary: JsonObject
    overrides: list[JsonObject] = Field(description="the effective overrides that set the target")
    services: list[JsonObject]
    incidents: list[JsonObject]
    credits: JsonObject
    forecast: JsonObject | None = Field(
        None,
        description="the running month's SLO forecasts per covered service (docs/sla-math.md, Forecasts); "
        "null for a closed month (no forecast: the outcome is known) and absent before version 3",
    )


class StatementMessage(ApiModel):
    """One message of a delivery: a contact's email or the statements webhook, with its outcome."""

    delivery_id: str = Field(description="the email's Message-ID and the webhook's X-SLAMon-Delivery")
    channel: str = Field(description="email or webhook")
    receiver: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None = None
    completed_at: Timestamp | None = None


class StatementDelivery(ApiModel):
    event_key: str = Field(description="statement:<customer>:<YYYY-MM>, or ...:again:<n> for a resend")
    revision: int = Field(description="the statement revision sent")
    requested_by: str = Field(description="schedule, or cli:<os user>")
    created_at: Timestamp
    messages: list[StatementMessage]


class StatementDeliveryList(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customerId": "acme",
                    "month": "2026-11",
                    "deliveries": [
                        {
                            "eventKey": "statement:acme:2026-11",
                            "revision": 1,
                            "requestedBy": "schedule",
                            "createdAt": "2026-12-04T00:00:41.5Z",
                            "messages": [
                                {
                                    "deliveryId": "0d9c3a52-5f4e-4c1e-9a43-6f0f7b1f9a10",
                                    "channel": "email",
                                    "receiver": "billing@acme.example",
                                    "status": "delivered",
                                    "attempts": 1,
                                    "lastError": None,
                                    "completedAt": "2026-12-04T00:00:43.1Z",
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )
    customer_id: str
    month: str
    deliveries: list[StatementDelivery] = Field(description="oldest first")
