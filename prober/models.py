"""What a probe is given (Target) and what it returns (ProbeResult): the one signature of every check kind."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import ValidationError

from app.services.models import CheckConfig

if TYPE_CHECKING:
    import asyncpg

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_INTERVAL_S = 60
DEFAULT_LATENCY_TARGET_MS = 7000

# A `services` row: as the database returns it (app.services.service.list_active), or as kept on disk
# for a start without the database (prober.lastseen). Both are read by column name.
ServiceRow: TypeAlias = "Mapping[str, Any] | asyncpg.Record"


class TargetError(ValueError):
    """A service row cannot be probed as configured; the message names service and field."""


@dataclass(frozen=True)
class Target:
    """A service as the prober sees it. interval_s is not re-validated here so tests can use 1-2 s."""

    service_id: str
    kind: str
    url: str
    interval_s: int = DEFAULT_INTERVAL_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    latency_target_ms: int = DEFAULT_LATENCY_TARGET_MS
    allow_private: bool = False
    check: CheckConfig = field(default_factory=CheckConfig)

    @classmethod
    def from_row(cls, row: ServiceRow) -> Target:
        """Build from a `services` row (app.services.service.list_active); validates the check config."""
        from app.services.conditions import ConditionError, compile_check  # local: avoids an import cycle

        service_id = row["id"]
        raw = row["check_config"] or {}
        if isinstance(raw, str):
            raw = json.loads(raw)
        try:
            check = CheckConfig.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"check.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else f"check: {e['msg']}"
                for e in exc.errors()
            )
            raise TargetError(f"service {service_id}: {problems}") from None
        target = cls(
            service_id=service_id,
            kind=row["kind"],
            url=row["endpoint_url"] or "",
            interval_s=int(row["interval_s"]),
            timeout_s=float(row["timeout_s"]),
            latency_target_ms=int(row["latency_target_ms"]),
            allow_private=bool(row["allow_private"]),
            check=check,
        )
        if target.kind not in PROBE_KINDS:
            raise TargetError(f"service {service_id}: kind: unknown check kind {target.kind!r}")
        if not target.url:
            raise TargetError(f"service {service_id}: url: a probed service needs a url")
        try:
            compile_check(check, label=f"service {service_id}")
        except ConditionError as exc:
            raise TargetError(str(exc)) from None
        return target


PROBE_KINDS = ("http", "tcp")


@dataclass
class ProbeResult:
    """Outcome of one check. error_type is one of app.ingest.service.ERROR_TYPES when ok is False."""

    ok: bool
    latency_ms: int
    status_code: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    # Phase durations in ms: dns, connect, tls, first_byte, total (absent phases are omitted).
    phases_ms: dict[str, float] = field(default_factory=dict)
    cert_expires_at: float | None = None  # epoch seconds of the leaf certificate's notAfter
    body_truncated: bool = False

    @classmethod
    def failure(cls, error_type: str, message: str, latency_ms: int, **extra: Any) -> ProbeResult:
        return cls(ok=False, latency_ms=latency_ms, error_type=error_type, error_message=message[:2000], **extra)
