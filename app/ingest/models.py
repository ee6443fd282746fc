"""Ingest API rows (snake_case, `ts` ISO 8601 with an offset)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ts: AwareDatetime
    ok: StrictBool
    status_code: StrictInt | None = Field(None, ge=100, le=599)
    latency_ms: StrictInt | None = Field(None, ge=0, le=2_147_483_647)
    error_type: (
        Literal["timeout", "connection_error", "dns_error", "tls_error", "http_error", "assertion_failed"] | None
    ) = None
    error_message: str | None = Field(None, max_length=2000)
    region: str = Field("push", min_length=1, max_length=64)


class ApiCallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ts: AwareDatetime
    status_code: StrictInt = Field(ge=100, le=599)
    latency_ms: StrictInt = Field(ge=0, le=2_147_483_647)
    endpoint: str = Field("", max_length=255)
    method: str = Field("GET", min_length=1, max_length=10)
    request_id: str | None = Field(None, min_length=1, max_length=128)


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    received: int
