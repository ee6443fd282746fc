"""Service catalog contract: what services.toml and the API accept."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.contract import ApiModel, JsonObject, Timestamp
from app.services.conditions import ConditionError, JsonPath, compile_check

Tier = Literal["enterprise_plus", "enterprise", "professional", "developer"]
CheckKind = Literal["http", "tcp"]


class CheckConfig(BaseModel):
    """How a probe judges a response (HTTP); ignored by other kinds."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expected_status: list[int] | None = None  # default: any 2xx or 3xx
    keyword: str | None = None
    json_path: str | None = None
    json_value: str | int | float | bool | None = None
    verify_tls: bool = True
    max_body_bytes: int = Field(1024 * 1024, ge=1, le=64 * 1024 * 1024)

    @field_validator("json_path")
    @classmethod
    def _path_parses(cls, value: str | None) -> str | None:
        # the same parser the probe evaluates with: a catalog that loads is one that can run
        if value is not None:
            try:
                JsonPath.parse(value)
            except ConditionError as exc:
                raise ValueError(str(exc).removeprefix("json_path: ")) from None
        return value


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    kind: CheckKind = "http"
    url: str | None = Field(None, max_length=2048)
    interval_s: int = Field(60, ge=10, le=86_400)
    timeout_s: float = Field(30, ge=0.01, le=120, description="seconds, stored to the hundredth")
    latency_target_ms: int = Field(7000, gt=0, le=600_000)
    tier: Tier = "professional"
    allow_private: bool = False
    check: CheckConfig = Field(default_factory=CheckConfig)

    @field_validator("check")
    @classmethod
    def _check_runs(cls, check: CheckConfig) -> CheckConfig:
        # what the probe compiles, checked where the service is declared: a service that loads is one that runs
        try:
            compile_check(check)
        except ConditionError as exc:
            raise ValueError(str(exc).removeprefix("check: check.")) from None
        return check

    @field_validator("url")
    @classmethod
    def _url_fits_kind(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is None:
            return url  # push-only service: results arrive through /api/ingest/checks
        kind = info.data.get("kind")  # absent when the kind itself was invalid
        parts = urlsplit(url)
        if kind == "http" and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("an http service needs an http:// or https:// URL with a host")
        if kind == "tcp":
            try:
                port = parts.port
            except ValueError:
                port = None
            if parts.scheme != "tcp" or not parts.hostname or not port:
                raise ValueError("a tcp service needs tcp://host:port")
        return url


# ---- answers ----


class ServiceListed(ApiModel):
    """A service of the public list; the first entry is {id: "all-systems", name: "All Systems"}."""

    id: str
    name: str
    description: str | None = None
    tier: Tier | None = None
    certificate_expires_at: Timestamp | None = Field(
        None, description="the soonest TLS certificate expiry the probers saw, or null"
    )


class ServiceList(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "services": [
                        {"id": "all-systems", "name": "All Systems"},
                        {
                            "id": "face-compare",
                            "name": "Face Compare",
                            "description": "1:1 face verification",
                            "tier": "enterprise",
                            "certificateExpiresAt": "2027-02-01T00:00:00Z",
                        },
                    ]
                }
            ]
        }
    )
    services: list[ServiceListed]


class ServiceConfigRead(BaseModel):
    """A service's whole configuration (admin). snake_case like the services.toml entry it mirrors:
    an exception to the API's camelCase (docs/api.md#casing)."""

    id: str
    name: str
    description: str
    kind: CheckKind
    url: str | None
    interval_s: int
    timeout_s: float
    latency_target_ms: int
    tier: Tier
    check: JsonObject
    is_active: bool
    managed_by: Literal["config", "api"]


class ServiceOne(BaseModel):
    service: ServiceConfigRead
