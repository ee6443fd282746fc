"""SLA report contracts — field names and nesting exactly as PRD §5.1."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


SERVICE = {"id": "face-compare", "name": "Face Compare"}


class ServiceRef(BaseModel):
    id: str
    name: str


class CountShare(BaseModel):
    count: int
    percentage: float


class Percentiles(BaseModel):
    p50: int | None
    p95: int | None
    p99: int | None


class ResponseTimeMetrics(CamelModel):
    total_requests: int
    avg_response_time: int | None
    slow_requests300: CountShare
    slow_requests500: CountShare
    timeout_requests: CountShare
    percentiles: Percentiles


class ResponseTimesReport(CamelModel):
    model_config = _example(
        {
            "service": SERVICE,
            "period": "2026-11",
            "partial": False,
            "avgResponseTime": 412,
            "targetThreshold": 7000,
            "metrics": {
                "totalRequests": 120000,
                "avgResponseTime": 412,
                "slowRequests300": {"count": 30000, "percentage": 25.0},
                "slowRequests500": {"count": 9000, "percentage": 7.5},
                "timeoutRequests": {"count": 12, "percentage": 0.01},
                "percentiles": {"p50": 350, "p95": 880, "p99": 1400},
            },
        }
    )
    service: ServiceRef
    period: str
    partial: bool
    avg_response_time: int | None
    target_threshold: int
    metrics: ResponseTimeMetrics


class AvailabilityMetrics(CamelModel):
    total_checks: int
    successful_checks: int
    failed_checks: int
    uptime_percentage: float | None
    total_downtime: str
    downtime_minutes: float
    expected_checks: int
    coverage: float | None
    maintenance_checks: int


class AvailabilityReport(CamelModel):
    model_config = _example(
        {
            "service": SERVICE,
            "period": "2026-11",
            "partial": False,
            "metrics": {
                "totalChecks": 43200,
                "successfulChecks": 43185,
                "failedChecks": 15,
                "uptimePercentage": 99.96,
                "totalDowntime": "15m",
                "downtimeMinutes": 15.0,
                "expectedChecks": 43200,
                "coverage": 100.0,
                "maintenanceChecks": 0,
            },
        }
    )
    service: ServiceRef
    period: str
    partial: bool
    metrics: AvailabilityMetrics


class DailyUsage(BaseModel):
    date: str
    total: int
    success: int
    errors: int


class UsageMetrics(CamelModel):
    total_calls: int
    successful_calls: int
    error_calls: int
    error_rate: float
    client_errors: int
    server_errors: int
    daily_stats: list[DailyUsage]


class UsageReport(CamelModel):
    model_config = _example(
        {
            "service": SERVICE,
            "period": "2026-11",
            "partial": False,
            "metrics": {
                "totalCalls": 1000,
                "successfulCalls": 990,
                "errorCalls": 10,
                "errorRate": 1.0,
                "clientErrors": 8,
                "serverErrors": 2,
                "dailyStats": [{"date": "2026-11-01", "total": 40, "success": 39, "errors": 1}],
            },
        }
    )
    service: ServiceRef
    period: str
    partial: bool
    metrics: UsageMetrics


class IncidentSummary(CamelModel):
    total_incidents: int
    p1_count: int
    p2_count: int
    p3_count: int
    avg_resolution_time: str | None


class IncidentStatsRow(CamelModel):
    id: str
    priority: str
    title: str
    reporter: str
    detection_criteria: str
    created_at: str
    resolved_at: str | None
    resolution_time: str | None


class IncidentStatsReport(CamelModel):
    model_config = _example(
        {
            "period": "2026-11",
            "partial": False,
            "summary": {
                "totalIncidents": 1,
                "p1Count": 0,
                "p2Count": 1,
                "p3Count": 0,
                "avgResolutionTime": "1h 5m",
            },
            "incidents": [
                {
                    "id": "INC-20261103-001",
                    "priority": "P2",
                    "title": "Slow answers",
                    "reporter": "alice",
                    "detectionCriteria": "P95 > 1000 ms",
                    "createdAt": "2026-11-03T01:00:00Z",
                    "resolvedAt": "2026-11-03T02:05:00Z",
                    "resolutionTime": "1h 5m",
                }
            ],
        }
    )
    period: str
    partial: bool
    summary: IncidentSummary
    incidents: list[IncidentStatsRow]
