"""The JSON of a violation and of a forecast alert, shared by the tier SLOs (app/slo/service.py,
app/slo/forecast_service.py) and the SLO definitions (app/slo/definitions/): one row's fields are
rendered by one function; each caller puts its own names first (a tier's `slo`, a definition's
`definition` and `alert`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from app.formatting import format_duration, utc_iso

Row = asyncpg.Record | Mapping[str, Any]


def violation_fields(row: Row, now: datetime) -> dict[str, Any]:
    """A violation's fields from `severity` on; an open one lasts until `now`. `details` is the jsonb
    column as asyncpg returns it (text), or already decoded (a row the worker built)."""
    end = row["ended_at"] or now
    seconds = max(0, math.floor((end - row["started_at"]).total_seconds()))
    details = row["details"]
    return {
        "severity": row["severity"],
        "startedAt": utc_iso(row["started_at"]),
        "endedAt": utc_iso(row["ended_at"]),
        "open": row["ended_at"] is None,
        "durationSeconds": seconds,
        "duration": format_duration(seconds),
        "threshold": row["threshold"],
        "worstValue": row["worst_value"],
        "details": json.loads(details) if isinstance(details, str) else details,
    }


def violation_to_public(row: Row, now: datetime) -> dict[str, Any]:
    """A tier engine violation (slo_violations)."""
    return {"id": row["id"], "serviceId": row["service_id"], "slo": row["slo"], **violation_fields(row, now)}


def forecast_alert_fields(row: Row) -> dict[str, Any]:
    """A forecast alert's fields from `period` on (slo_forecast_alerts, slo_definition_forecast_alerts)."""
    return {
        "period": row["period"],
        "openedAt": utc_iso(row["opened_at"]),
        "reasons": list(row["reasons"]),
        "exhaustsAt": utc_iso(row["exhausts_at"]),
        "missProbability": row["miss_probability"],
    }
