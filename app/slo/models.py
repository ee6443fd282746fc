"""GET /api/slo/{serviceId} and /api/slo/violations as the API shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.contract import ApiModel, JsonObject, Number, Pagination, Timestamp

Severity = Literal["WARNING", "CRITICAL"]


class SloService(ApiModel):
    id: str
    name: str
    tier: str
    tier_name: str


class Events(BaseModel):
    unit: Literal["slots", "calls"]
    total: int
    bad: int


class ErrorBudget(ApiModel):
    unit: Literal["minutes", "calls"]
    total: Number | None
    consumed: Number | None
    remaining: Number | None
    consumed_percent: Number | None


class Objective(ApiModel):
    slo: str
    name: str
    target: Number
    unit: str
    current: Number | None
    met: bool | None
    events: Events
    error_budget: ErrorBudget
    burn_rates: dict[str, Number | None] | None = Field(description="by window (5m, 30m, 1h, 6h); this month only")


class Violation(ApiModel):
    id: int
    service_id: str
    slo: str
    severity: Severity
    started_at: Timestamp
    ended_at: Timestamp | None
    open: bool
    duration_seconds: int
    duration: str
    threshold: Number
    worst_value: Number | None
    details: JsonObject


VIOLATION_EXAMPLE: dict[str, Any] = {
    "id": 12,
    "serviceId": "face-compare",
    "slo": "availability",
    "severity": "WARNING",
    "startedAt": "2026-12-01T01:00:00Z",
    "endedAt": "2026-12-01T02:00:00Z",
    "open": False,
    "durationSeconds": 3600,
    "duration": "1h 0m",
    "threshold": 99.9,
    "worstValue": 99.2,
    "details": {},
}


class SloReport(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service": {
                        "id": "face-compare",
                        "name": "Face Compare",
                        "tier": "enterprise",
                        "tierName": "Enterprise",
                    },
                    "period": "2026-12",
                    "periodStart": "2026-12-01T00:00:00+09:00",
                    "periodEnd": "2027-01-01T00:00:00+09:00",
                    "partial": True,
                    "asOf": "2026-12-01T10:00:00Z",
                    "slos": [
                        {
                            "slo": "availability",
                            "name": "Availability",
                            "target": 99.9,
                            "unit": "%",
                            "current": 99.95,
                            "met": True,
                            "events": {"unit": "slots", "total": 1000, "bad": 1},
                            "errorBudget": {
                                "unit": "minutes",
                                "total": 44.64,
                                "consumed": 1,
                                "remaining": 43.64,
                                "consumedPercent": 2.24,
                            },
                            "burnRates": {"5m": 0, "30m": 0, "1h": 0.5, "6h": 0.2},
                        }
                    ],
                    "openViolations": [],
                }
            ]
        }
    )
    service: SloService
    period: str
    period_start: Timestamp
    period_end: Timestamp
    partial: bool
    as_of: Timestamp
    slos: list[Objective]
    open_violations: list[Violation]


class ViolationPage(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "violations": [VIOLATION_EXAMPLE],
                    "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1, "hasNext": False},
                }
            ]
        }
    )
    violations: list[Violation]
    pagination: Pagination
