"""GET /api/usage/trends/{serviceId} as the API shows it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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
    percent_of_quota: Number | None = Field(
        description="calls / the tier's daily quota × 100, half-up to 2 decimals; null: unlimited tier"
    )


class ForecastMonth(BaseModel):
    month: str
    calls: int


class Forecast(ApiModel):
    method: str
    based_on: list[str]
    slope_calls_per_month: Number | None
    months: list[ForecastMonth]
    note: str | None = Field(None, description="why there is no forecast")


class CapacityTrend(ApiModel):
    method: str
    first_day: str | None = Field(description="the first day fitted (the first with calls of the last 28)")
    last_day: str | None = Field(description="the last day fitted: yesterday (today is not complete)")
    days: int = Field(description="how many days were fitted")
    slope_calls_per_day: Number | None = Field(description="how many calls a day more each day")
    fitted_calls_today: int | None


class Capacity(ApiModel):
    """The service's calls a day against its tier's daily request quota (docs/sla-math.md, Capacity)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tier": "developer",
                    "tierLabel": "Developer",
                    "dailyRequests": 1000,
                    "peakDay": "2025-09-15",
                    "peakRequests": 740,
                    "peakPercentOfQuota": 74.0,
                    "daysOverQuota": 0,
                    "datesOverQuota": [],
                    "trend": {
                        "method": "Theil–Sen straight line …",
                        "firstDay": "2025-08-19",
                        "lastDay": "2025-09-15",
                        "days": 28,
                        "slopeCallsPerDay": 12.5,
                        "fittedCallsToday": 752,
                    },
                    "daysUntilQuota": 20,
                    "quotaReachedOn": "2025-10-06",
                    "note": None,
                }
            ]
        }
    )
    tier: str
    tier_label: str
    daily_requests: int | None = Field(description="the tier's daily request quota; null: unlimited")
    peak_day: str | None = Field(description="the busiest day shown (the earliest of equals)")
    peak_requests: int
    peak_percent_of_quota: Number | None
    days_over_quota: int = Field(description="days shown with calls above the quota")
    dates_over_quota: list[str]
    trend: CapacityTrend
    days_until_quota: int | None = Field(
        description="days from today until the fitted calls of a day reach the quota: 0 when the latest "
        "complete day or today so far is above it; null when unlimited, flat or declining, or without a trend"
    )
    quota_reached_on: str | None = Field(description="today + daysUntilQuota")
    note: str | None = Field(None, description="why daysUntilQuota is null")


class UsageTrends(ApiModel):
    service: ServiceRef
    months: int
    timezone: str
    as_of: Timestamp
    source: str = Field(description="where the calls come from: the service's own report")
    monthly: list[MonthUsage]
    daily: list[DayUsage]
    forecast: Forecast
    capacity: Capacity
