"""Customer contracts: what customers.toml and /api/customers accept (docs/api.md, Customers)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

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

from app.notifications.models import Email
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


def _unique(value: list) -> list:
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
