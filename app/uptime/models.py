"""GET /api/uptime/{serviceId} as the API shows it."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from app.contract import ApiModel
from app.sla.models import ServiceRef
from app.status.models import DayLetter


class UptimeMonth(ApiModel):
    name: str = Field(description="'November 2026'")
    month: str = Field(description="YYYY-MM")
    uptime: str | None = Field(description="the month's availability, percent, 2 decimals truncated")
    days: list[DayLetter] = Field(description="one status letter per day of the month, to today")


class UptimeMonths(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service": {"id": "face-compare", "name": "Face Compare"},
                    "months": [{"name": "November 2026", "month": "2026-11", "uptime": "99.97", "days": ["o", "po"]}],
                }
            ]
        }
    )
    service: ServiceRef
    months: list[UptimeMonth]
