"""How SLA numbers and instants are written (docs/sla-math.md): truncation, rounding, durations,
timestamps."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import overload


@overload
def utc_iso(ts: datetime) -> str: ...
@overload
def utc_iso(ts: None) -> None: ...
def utc_iso(ts: datetime | None) -> str | None:
    """An instant as the API writes it: ISO 8601, UTC as 'Z' (a local time keeps its offset)."""
    return None if ts is None else ts.isoformat().replace("+00:00", "Z")


def truncated_percentage(part: int, whole: int) -> Decimal | None:
    """part/whole x 100 truncated (not rounded) to 2 decimals; None when there is nothing to divide."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def rounded_percentage(part: int, whole: int) -> float:
    """part/whole x 100 rounded half-up to 2 decimals; 0 when whole is 0."""
    if whole <= 0:
        return 0.0
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def round_half_up(value: Decimal | float | int) -> int:
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_duration(total_seconds: float) -> str:
    """'3h 58m', '1d 2h 3m', '0m' — whole minutes, leading zero units left out."""
    minutes = int(total_seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    parts.append(f"{minutes}m")
    return " ".join(parts)


def percentage_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def pagination(page: int, limit: int, total: int) -> dict[str, int | bool]:
    """The `pagination` object of every paged list: page and limit as asked, the total, the number of
    pages (at least 1) and whether another follows."""
    pages = max(1, -(-total // limit))
    return {"page": page, "limit": limit, "total": total, "totalPages": pages, "hasNext": page < pages}
