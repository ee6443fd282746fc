"""SLA report contracts — field names and nesting exactly as PRD §5.1."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


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
    period: str
    partial: bool
    summary: IncidentSummary
    incidents: list[IncidentStatsRow]
