"""The period query parameters of the SLA figures and the customers' statements (docs/api.md,
Periods): `period=monthly&year=&month=`, `period=quarterly&year=&quarter=`, `period=yearly&year=`,
`period=range&start=&end=` (calendar days of the reporting zone, end exclusive, at most a year).
A parameter that does not belong to the period, or one missing, is a 422 naming it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, Query

from app import deps
from app.config import Settings
from app.errors import ApiError
from app.periods import Period, day_range, local_date, month, one_year_after, quarter, year

PeriodKind = Literal["monthly", "quarterly", "yearly", "range"]
# Which parameters each kind takes; any other given is refused by name.
TAKES: dict[str, tuple[str, ...]] = {
    "monthly": ("year", "month"),
    "quarterly": ("year", "quarter"),
    "yearly": ("year",),
    "range": ("start", "end"),
}


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422, "validation_error", f"{field}: {message}", [{"in": "query", "field": field, "message": message}]
    )


def _text(value: int | str | None) -> str | None:
    return None if value is None else str(value)


def _number(value: int | str | None) -> int | None:
    return None if value is None else int(value)


def _date(field: str, text: str | None) -> date:
    if text is None:
        raise _invalid(field, "required with period=range (a date, YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _invalid(field, f"expected a date as YYYY-MM-DD, got {text[:20]!r}") from None


def resolve(kind: str, given: Mapping[str, int | str | None], today: date, zone: ZoneInfo) -> Period:
    """The period the parameters name (None values: not given); 422 naming the first wrong one."""
    for name, value in given.items():
        if value is not None and name not in TAKES[kind]:
            raise _invalid(name, f"not a parameter of period={kind} (it takes {', '.join(TAKES[kind])})")
    year_number = _number(given.get("year"))
    if kind == "range":
        start, end = _date("start", _text(given.get("start"))), _date("end", _text(given.get("end")))
        if not 2000 <= start.year <= 2100:
            raise _invalid("start", "must be between 2000 and 2100")
        if end <= start:
            raise _invalid("end", "must be after start (the range is [start, end), end exclusive)")
        if end > one_year_after(start):
            raise _invalid("end", f"a range is at most a year: end at most {one_year_after(start).isoformat()}")
        return day_range(start, end, zone)
    if kind == "yearly":
        return year(year_number or today.year, zone)
    part_name = "month" if kind == "monthly" else "quarter"
    part = _number(given.get(part_name))
    if (year_number is None) != (part is None):
        raise _invalid("year" if year_number is None else part_name, f"give both year and {part_name}, or neither")
    if kind == "monthly":
        return month(year_number or today.year, part or today.month, zone)
    return quarter(year_number or today.year, part or (today.month - 1) // 3 + 1, zone)


def report_period(
    period: PeriodKind = Query("monthly", description="monthly, quarterly, yearly or range (at most a year)"),
    year_number: int | None = Query(None, alias="year", ge=2000, le=2100),
    month_number: int | None = Query(None, alias="month", ge=1, le=12),
    quarter_number: int | None = Query(None, alias="quarter", ge=1, le=4),
    start: str | None = Query(None, max_length=10, description="period=range: first day, YYYY-MM-DD"),
    end: str | None = Query(None, max_length=10, description="period=range: the day after the last, YYYY-MM-DD"),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> Period:
    """A FastAPI dependency: the period of the query (default: the current month)."""
    given = {"year": year_number, "month": month_number, "quarter": quarter_number, "start": start, "end": end}
    return resolve(period, given, local_date(now, settings.zone), settings.zone)


def require_begun(period: Period, now: datetime) -> Period:
    """422 for a period that has not begun in the reporting zone (a statement of the future), naming the
    parameter that put it there."""
    if period.first_day <= local_date(now, period.zone):
        return period
    label = period.label
    field = "start" if ".." in label else "quarter" if "-Q" in label else "month" if "-" in label else "year"
    raise _invalid(field, f"the period {label} has not begun yet")
