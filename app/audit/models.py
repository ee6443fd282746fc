"""The audit log as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.contract import Pagination


class AuditEntryRead(BaseModel):
    id: int
    at: datetime
    actorId: str | None
    actorName: str
    action: str
    targetType: str
    targetId: str
    ip: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditEntryRead]
    pagination: Pagination
