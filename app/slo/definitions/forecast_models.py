"""GET /api/slo-definitions/{name}/forecast as the API shows it (docs/sla-math.md "Forecasts of SLO
definitions")."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from app.contract import ApiModel, Number, Timestamp
from app.slo.forecast_models import AlertReason, Burn, Method


class DefinitionForecastWindow(ApiModel):
    kind: Literal["rolling", "calendar"]
    label: str = Field(description="the calendar period (2026-12, 2026-W50, 2026-Q4) or '28d rolling'")
    start: Timestamp = Field(description="the period's start; rolling: the window's start now")
    forecast_end: Timestamp = Field(
        description="the moment the miss probability is about: the period's end; rolling: 24 h from now"
    )


class ServiceDefinitionForecast(ApiModel):
    service_id: str
    service_name: str
    unit: Literal["minutes", "calls"]
    budget: Number = Field(
        description="bad events the window allows: down minutes (checks), bad calls at the calls' rate (calls)"
    )
    consumed: Number
    remaining: Number
    current_burn: Burn = Field(description="at the window's burn so far")
    recent_burn: Burn = Field(description="at the last 7 days' burn")
    miss_probability: float | None = Field(
        description="P(the SLI is below target at forecastEnd); null without data to learn from"
    )
    simulations: int = Field(description="bootstrap runs behind the probability; 0 when the outcome is certain")
    pool_days: int = Field(description="days with events the bootstrap drew from")
    alerting: bool
    alert_reasons: list[AlertReason]


class DefinitionForecastAlert(ApiModel):
    id: int
    definition: str
    service_id: str
    period: str
    opened_at: Timestamp
    reasons: list[AlertReason]
    exhausts_at: Timestamp | None
    miss_probability: Number | None


class DefinitionForecast(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "definition": "checkout-latency",
                    "displayName": "Checkout P95 under 300 ms",
                    "target": 95,
                    "op": "gte",
                    "window": {
                        "kind": "rolling",
                        "label": "28d rolling",
                        "start": "2026-11-12T00:00:00Z",
                        "forecastEnd": "2026-12-11T00:00:00Z",
                    },
                    "asOf": "2026-12-10T00:00:00Z",
                    "method": {
                        "name": "bootstrap",
                        "simulations": 4000,
                        "seed": 21,
                        "historyDays": 90,
                        "recentDays": 7,
                        "horizonHours": 24,
                        "missProbabilityThreshold": 0.5,
                    },
                    "services": [
                        {
                            "serviceId": "agent-gateway",
                            "serviceName": "Agent Gateway",
                            "unit": "calls",
                            "budget": 1400,
                            "consumed": 1250,
                            "remaining": 150,
                            "currentBurn": {"burnRate": 0.89, "exhausted": False, "exhaustsAt": "2026-12-12T09:30:00Z"},
                            "recentBurn": {"burnRate": 1.6, "exhausted": False, "exhaustsAt": "2026-12-10T20:00:00Z"},
                            "missProbability": 0.71,
                            "simulations": 4000,
                            "poolDays": 118,
                            "alerting": True,
                            "alertReasons": ["exhaustion_recent_burn", "miss_probability"],
                        }
                    ],
                    "openAlerts": [
                        {
                            "id": 4,
                            "definition": "checkout-latency",
                            "serviceId": "agent-gateway",
                            "period": "28d rolling",
                            "openedAt": "2026-12-09T23:55:00Z",
                            "reasons": ["exhaustion_recent_burn", "miss_probability"],
                            "exhaustsAt": "2026-12-10T20:00:00Z",
                            "missProbability": 0.71,
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
    window: DefinitionForecastWindow
    as_of: Timestamp
    method: Method
    services: list[ServiceDefinitionForecast]
    open_alerts: list[DefinitionForecastAlert]
