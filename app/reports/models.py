"""Report API contracts: the correction request of an admin, and revision listings."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


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


class RevisionRead(BaseModel):
    revision: int
    frozenAt: str
    reason: str
    author: str


class RevisionCreated(RevisionRead):
    serviceId: str
    month: str


class RevisionList(BaseModel):
    serviceId: str
    month: str
    revisions: list[RevisionRead]
