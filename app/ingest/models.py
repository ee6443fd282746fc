"""Ingest API rows (snake_case, `ts` ISO 8601 with an offset)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from app.contract import ApiModel, Instant


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
    """Rows written, rows already stored (same slot, or request id), rows in the request."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted": 2, "duplicates": 1, "received": 3}]})
    accepted: int
    duplicates: int
    received: int


class IngestKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # False keeps the service's other keys working (overlap while its reporters switch; revoke them after)
    revoke_others: StrictBool = True


class IngestKeyRead(ApiModel):
    """An ingest key as listed: never the key itself, only its prefix."""

    id: int
    service_id: str
    prefix: str
    derived: bool = Field(description="a key of before sql/112, kept (as its hash) the first time it was used")
    created_at: Instant
    created_by: str | None
    revoked_at: Instant | None
    revoked_by: str | None
    active: bool


class IngestKeyList(ApiModel):
    keys: list[IngestKeyRead]
    derived_key_active: bool


class IngestKeyIssued(ApiModel):
    key: str = Field(description="the key, shown this once: send it as 'Authorization: Bearer <key>'")
    ingest_key: IngestKeyRead


class IngestKeysRevoked(BaseModel):
    revoked: list[str] = Field(description="the prefixes of the keys revoked")
