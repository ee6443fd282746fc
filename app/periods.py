"""Periods: half-open [start, end) intervals cut in the reporting time zone (SLA-MATH.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def merge_intervals(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Half-open intervals merged where they overlap or touch, in order."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The instant a calendar day begins in the zone (23- or 25-hour days around DST included)."""
    return datetime.combine(day, time.min, tzinfo=zone)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    first_day: date
    end_day: date  # exclusive
    zone: ZoneInfo
    label: str

    @property
    def start(self) -> datetime:
        return day_start(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        return day_start(self.end_day, self.zone)

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range((self.end_day - self.first_day).days)]

    def is_partial(self, now: datetime) -> bool:
        return now < self.end


def month(year: int, month_number: int, zone: ZoneInfo) -> Period:
    first = date(year, month_number, 1)
    return Period(first, add_months(first, 1), zone, f"{year:04d}-{month_number:02d}")


def last_days(count: int, now: datetime, zone: ZoneInfo) -> Period:
    """The last `count` calendar days, today included."""
    today = local_date(now, zone)
    return Period(today - timedelta(days=count - 1), today + timedelta(days=1), zone, f"last-{count}-days")
