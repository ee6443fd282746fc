"""GET /api/system-status as the API shows it (the status page's data)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from app.contract import ApiModel, Timestamp

Status = Literal["operational", "degraded", "outage"]
DayLetter = Literal["o", "po", "mo", "nd", "e"]


class ServiceStatus(ApiModel):
    id: str
    name: str
    status: Status
    uptime: str | None = Field(description="90-day uptime, percent with 2 decimals truncated; null without data")
    uptime_data: list[DayLetter] = Field(
        description="90 daily statuses, oldest first: o operational, po partial outage, mo major outage, "
        "nd no data, e maintenance (docs/sla-math.md)"
    )
    last_checked_at: Timestamp | None


class SystemStatus(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "overallStatus": "degraded",
                    "lastUpdated": "2026-12-01T10:00:00Z",
                    "services": [
                        {
                            "id": "face-compare",
                            "name": "Face Compare",
                            "status": "degraded",
                            "uptime": "99.95",
                            "uptimeData": ["o", "o", "po", "nd", "e"],
                            "lastCheckedAt": "2026-12-01T09:59:00Z",
                        }
                    ],
                }
            ]
        }
    )
    overall_status: Status
    last_updated: Timestamp
    services: list[ServiceStatus]
