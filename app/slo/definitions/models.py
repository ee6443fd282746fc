"""GET /api/slo-definitions… as the API shows them (docs/api.md#slo-definitions)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.contract import ApiModel, JsonObject, Number, Pagination, Timestamp

Severity = Literal["WARNING", "CRITICAL"]


class FilterRead(ApiModel):
    endpoints: list[str]
    methods: list[str]
    statuses: list[str] = Field(description="'2xx', '404' or '500-504'")
    latency_below_ms: int | None = None
    latency_at_least_ms: int | None = None
    ok: bool | None = Field(None, description="checks: the slot's majority verdict")


class SliRead(ApiModel):
    source: Literal["checks", "calls"]
    events: FilterRead
    good: FilterRead | None = None
    bad: FilterRead | None = None
    percentile: Number | None = Field(None, description="e.g. 95 for 'P95 < good.latencyBelowMs'")


class WindowRead(ApiModel):
    kind: Literal["rolling", "calendar"]
    days: int | None = None
    unit: Literal["week", "month", "quarter"] | None = None


class AlertRead(ApiModel):
    kind: Literal["burn_rate", "threshold"]
    name: str
    severity: Severity
    long_minutes: int | None = None
    short_minutes: int | None = None
    factor: Number | None = None
    measure: Literal["good_percent", "bad_percent", "percentile_ms"] | None = None
    compare: Literal["lt", "gt"] | None = None
    value: Number | None = None
    minutes: int | None = None


DEFINITION_EXAMPLE: dict[str, Any] = {
    "name": "slo-001-availability",
    "displayName": "SLO-001 availability",
    "description": "Monthly availability of 99.9 % from the checks.",
    "services": [],
    "sli": {
        "source": "checks",
        "events": {
            "endpoints": [],
            "methods": [],
            "statuses": [],
            "latencyBelowMs": None,
            "latencyAtLeastMs": None,
            "ok": None,
        },
        "good": {
            "endpoints": [],
            "methods": [],
            "statuses": [],
            "latencyBelowMs": None,
            "latencyAtLeastMs": None,
            "ok": True,
        },
        "bad": None,
        "percentile": None,
    },
    "window": {"kind": "calendar", "days": None, "unit": "month"},
    "target": 99.9,
    "op": "gte",
    "alerts": [
        {
            "kind": "burn_rate",
            "name": "fast",
            "severity": "CRITICAL",
            "longMinutes": 60,
            "shortMinutes": 5,
            "factor": 14.4,
        }
    ],
    "labels": {"document": "SLO-001"},
    "tier": None,
    "readOnly": False,
    "source": "example",
    "createdAt": "2026-12-01T00:00:00Z",
    "updatedAt": "2026-12-01T00:00:00Z",
    "updatedBy": "system",
}


class DefinitionRead(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEFINITION_EXAMPLE]})
    name: str
    display_name: str
    description: str
    services: list[str] = Field(description="service ids; empty: every active service (a tier's: its tier's)")
    sli: SliRead
    window: WindowRead
    target: Number = Field(description="percent of good events")
    op: Literal["gte", "gt"]
    alerts: list[AlertRead]
    labels: dict[str, str]
    tier: str | None = Field(None, description="set on the built-in tier definitions")
    read_only: bool = Field(description="the built-in tier definitions cannot be written")
    source: Literal["tier", "api", "openslo", "example"]
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    updated_by: str | None = None


class DefinitionList(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"definitions": [DEFINITION_EXAMPLE]}]})
    definitions: list[DefinitionRead]


class Events(BaseModel):
    unit: Literal["slots", "calls"]
    total: int
    good: int
    bad: int


class ErrorBudget(ApiModel):
    unit: Literal["minutes", "calls"]
    total: Number | None = None
    consumed: Number | None = None
    remaining: Number | None = None
    consumed_percent: Number | None = None


class BurnAlertState(ApiModel):
    alert: str
    long_minutes: int
    short_minutes: int
    factor: Number
    long_rate: Number | None = None
    short_rate: Number | None = None
    burning: bool


class DefinitionViolation(ApiModel):
    id: int
    definition: str
    service_id: str
    alert: str
    severity: Severity
    started_at: Timestamp
    ended_at: Timestamp | None = None
    open: bool
    duration_seconds: int
    duration: str
    threshold: Number
    worst_value: Number | None = None
    details: JsonObject


VIOLATION_EXAMPLE: dict[str, Any] = {
    "id": 3,
    "definition": "slo-002-weekly",
    "serviceId": "face-compare",
    "alert": "warning",
    "severity": "WARNING",
    "startedAt": "2026-12-01T01:00:00Z",
    "endedAt": None,
    "open": True,
    "durationSeconds": 3900,
    "duration": "1h 5m",
    "threshold": 98,
    "worstValue": 96.5,
    "details": {"kind": "threshold", "measure": "good_percent", "compare": "lt", "value": "98", "minutes": 60},
}


class ServiceStatus(ApiModel):
    service_id: str
    service_name: str
    events: Events
    sli: Number | None = Field(None, description="good events in percent, truncated to 4 places")
    met: bool | None = None
    percentile_ms: int | None = Field(None, description="the nearest-rank percentile of the SLI, when it has one")
    error_budget: ErrorBudget
    burn_rates: dict[str, Number | None] = Field(description="by window ending now: 5m, 30m, 1h, 6h and the alerts'")
    burn_alerts: list[BurnAlertState]
    open_violations: list[DefinitionViolation]


class StatusWindow(ApiModel):
    kind: Literal["rolling", "calendar"]
    label: str
    start: Timestamp
    end: Timestamp = Field(description="now: the window to date")
    minutes: Number = Field(description="the whole window's elapsed length, the budget's base")


class DefinitionStatus(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "definition": "slo-002-weekly",
                    "displayName": "SLO-002 weekly availability",
                    "target": 99.9,
                    "op": "gte",
                    "window": {
                        "kind": "rolling",
                        "label": "7d rolling",
                        "start": "2026-11-24T10:00:00Z",
                        "end": "2026-12-01T10:00:00Z",
                        "minutes": 10080,
                    },
                    "asOf": "2026-12-01T10:00:00Z",
                    "services": [
                        {
                            "serviceId": "face-compare",
                            "serviceName": "Face Compare",
                            "events": {"unit": "slots", "total": 10080, "good": 10075, "bad": 5},
                            "sli": 99.9503,
                            "met": True,
                            "percentileMs": None,
                            "errorBudget": {
                                "unit": "minutes",
                                "total": 10.08,
                                "consumed": 5,
                                "remaining": 5.08,
                                "consumedPercent": 49.6,
                            },
                            "burnRates": {"5m": 0, "30m": 0, "1h": 0, "6h": 0.28},
                            "burnAlerts": [],
                            "openViolations": [VIOLATION_EXAMPLE],
                        }
                    ],
                }
            ]
        }
    )
    definition: str
    display_name: str
    target: Number
    op: Literal["gte", "gt"]
    window: StatusWindow
    as_of: Timestamp
    services: list[ServiceStatus]


class DefinitionViolationPage(ApiModel):
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
    violations: list[DefinitionViolation]
    pagination: Pagination
