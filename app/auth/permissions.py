"""Roles and the permission matrix of PRD §6.2, declared once; routes name a permission."""

from __future__ import annotations

from typing import Literal

Role = Literal["viewer", "reporter", "admin"]

VIEWER = frozenset({"incidents:read", "system:read"})
REPORTER = VIEWER | {
    "incidents:create",
    "incidents:update",
    "incidents:comment",
    "incidents:draft",
    "incidents:collaborate",
}
ADMIN = REPORTER | {
    "incidents:delete",
    "users:read",
    "users:write",
    "audit:read",
    "services:write",
    "maintenance:write",
    "notifications:write",
}
ADMIN = ADMIN | {"reports:revise"}  # corrections of closed monthly SLA reports (app/reports)
ADMIN = ADMIN | {"services:read"}  # a service's whole configuration: its check may carry the target's credentials
ADMIN = ADMIN | {"customers:read", "customers:write"}  # contracts, fees and statements (app/customers)
ADMIN = ADMIN | {"slos:write"}  # SLO definitions: the admin API and OpenSLO apply (app/slo/definitions)

MATRIX: dict[str, frozenset[str]] = {"viewer": VIEWER, "reporter": REPORTER, "admin": ADMIN}
PERMISSIONS: frozenset[str] = ADMIN


def allows(role: str, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")  # a typo on a route fails at import, not open
    return permission in MATRIX.get(role, frozenset())
