"""Report API contracts: the correction request of an admin, and revision listings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.contract import ApiModel, JsonObject, Timestamp


class RevisionCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why the month is corrected (audited)")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value.strip()


class RevisionRead(ApiModel):
    """A frozen revision of a month (a report's or a customer statement's)."""

    revision: int
    frozen_at: Timestamp
    reason: str
    author: str


REVISION_EXAMPLE: dict[str, Any] = {
    "revision": 2,
    "frozenAt": "2026-12-02T01:00:00Z",
    "reason": "late API-call reports of 11-28 added",
    "author": "alice",
}


class RevisionCreated(RevisionRead):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**REVISION_EXAMPLE, "serviceId": "face-compare", "month": "2026-11"}]}
    )
    service_id: str
    month: str


class RevisionList(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "serviceId": "face-compare",
                    "month": "2026-11",
                    "revisions": [{**REVISION_EXAMPLE, "revision": 1, "reason": "month close"}, REVISION_EXAMPLE],
                }
            ]
        }
    )
    service_id: str
    month: str
    revisions: list[RevisionRead]


class ReportMeta(BaseModel):
    """Which report this is: a closed month's frozen revision (`final`) or the running month's live
    figures (`provisional`, with `asOf`)."""

    model_config = ConfigDict(extra="allow")
    serviceId: str
    month: str
    status: Literal["final", "provisional"]
    revision: int | None
    frozenAt: str | None = None
    reason: str | None = None
    author: str | None = None
    asOf: str | None = None
    latestRevision: int | None
    revisions: list[RevisionRead]


class ReportDocument(BaseModel):
    """`?fmt=json`: the report's figures. Each section equals what /api/sla/* answers for the month
    (docs/api.md, Reports); a frozen revision keeps the sections of the release that froze it, so
    they are described here as objects, not field by field."""

    model_config = ConfigDict(extra="allow")
    report: ReportMeta
    service: JsonObject
    period: JsonObject
    availability: JsonObject
    responseTimes: JsonObject
    usage: JsonObject
    incidents: JsonObject
    slo: JsonObject
    credits: JsonObject
    dataSources: JsonObject
