"""GET /api/slo/{serviceId}/forecast as the API shows it (docs/sla-math.md "Forecasts")."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from app.contract import ApiModel, Number, Timestamp
from app.slo.models import SloService

AlertReason = Literal["exhaustion_current_burn", "exhaustion_recent_burn", "miss_probability"]


class Burn(ApiModel):
    burn_rate: Number | None = Field(
        description="bad events per second over the budget's per second (1: spends it exactly by the month's end)"
    )
    exhausted: bool = Field(description="the budget is spent already")
    exhausts_at: Timestamp | None = Field(description="when the budget runs out at this burn; null: it lasts the month")


class SloForecast(ApiModel):
    slo: str
    name: str
    unit: Literal["minutes", "calls"]
    budget: Number = Field(
        description="bad events (down minutes, bad calls) the month allows; calls: at their rate so far"
    )
    consumed: Number
    remaining: Number
    current_burn: Burn = Field(description="at the month's burn so far")
    recent_burn: Burn = Field(description="at the last 7 days' burn")
    miss_probability: float | None = Field(
        description="P(the month misses the target); null without data to learn from"
    )
    simulations: int = Field(description="bootstrap runs behind the probability; 0 when the outcome is certain")
    pool_days: int = Field(description="days with events the bootstrap drew from")
    alerting: bool
    alert_reasons: list[AlertReason]


class Method(ApiModel):
    name: Literal["bootstrap"]
    simulations: int
    seed: int
    history_days: int
    recent_days: int
    horizon_hours: Number
    miss_probability_threshold: float


class ForecastAlert(ApiModel):
    id: int
    service_id: str
    slo: str
    period: str
    opened_at: Timestamp
    reasons: list[AlertReason]
    exhausts_at: Timestamp | None
    miss_probability: Number | None


class ServiceForecast(ApiModel):
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
                    "slos": [
                        {
                            "slo": "availability",
                            "name": "Availability",
                            "unit": "minutes",
                            "budget": 44.64,
                            "consumed": 20,
                            "remaining": 24.64,
                            "currentBurn": {"burnRate": 1.39, "exhausted": False, "exhaustsAt": "2026-12-22T07:40:48Z"},
                            "recentBurn": {"burnRate": 4.2, "exhausted": False, "exhaustsAt": "2026-12-14T00:10:00Z"},
                            "missProbability": 0.93,
                            "simulations": 4000,
                            "poolDays": 90,
                            "alerting": True,
                            "alertReasons": ["miss_probability"],
                        }
                    ],
                    "openAlerts": [
                        {
                            "id": 3,
                            "serviceId": "face-compare",
                            "slo": "availability",
                            "period": "2026-12",
                            "openedAt": "2026-12-09T06:05:00Z",
                            "reasons": ["miss_probability"],
                            "exhaustsAt": "2026-12-14T00:10:00Z",
                            "missProbability": 0.93,
                        }
                    ],
                }
            ]
        }
    )
    service: SloService
    period: str = Field(description="the running month (a closed month has no forecast)")
    period_start: Timestamp
    period_end: Timestamp
    as_of: Timestamp
    method: Method
    slos: list[SloForecast]
    open_alerts: list[ForecastAlert]
