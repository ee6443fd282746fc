"""GET /api/usage/trends/{serviceId} as the API shows it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.contract import ApiModel, Number, Timestamp
from app.sla.models import ServiceRef


class MonthUsage(ApiModel):
    month: str
    partial: bool
    calls: int
    successful_calls: int
    error_calls: int
    error_rate: Number
    client_errors: int
    server_errors: int
    p95_latency_ms: Number | None
    growth_percent: Number | None = Field(description="against the month before; null for the running month")
    projected_calls: int | None = Field(None, description="the running month only: calls at this rate by its end")


class DayUsage(ApiModel):
    date: str
    calls: int
    error_calls: int
    error_rate: Number
    p95_latency_ms: Number | None


class ForecastMonth(BaseModel):
    month: str
    calls: int


class Forecast(ApiModel):
    method: str
    based_on: list[str]
    slope_calls_per_month: Number | None
    months: list[ForecastMonth]
    note: str | None = Field(None, description="why there is no forecast")


class UsageTrends(ApiModel):
    service: ServiceRef
    months: int
    timezone: str
    as_of: Timestamp
    source: str = Field(description="where the calls come from: the service's own report")
    monthly: list[MonthUsage]
    daily: list[DayUsage]
    forecast: Forecast
