"""Periods: half-open [start, end) intervals cut in the reporting time zone (docs/sla-math.md).

Every length of a period or a day is elapsed time, and this module is the one place that computes it:
the bounds it hands out are UTC instants, so subtracting them gives elapsed time (a 23-hour DST day is
82,800 s). Two aware datetimes sharing one ZoneInfo subtract as wall-clock time (24 h for that same
day), which is why local bounds exist only for display (`start_local`, `end_local`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

UTC = timezone.utc


def merge_intervals(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Half-open intervals merged where they overlap or touch, in order."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """A day's first instant as a local time of the zone: for display only, never for arithmetic."""
    return datetime.combine(day, time.min, tzinfo=zone)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) a calendar day begins in the zone (23- or 25-hour days around DST included)."""
    return local_midnight(day, zone).astimezone(UTC)


def elapsed_seconds(lo: datetime, hi: datetime) -> float:
    """Elapsed time from lo to hi, whatever zones the two carry."""
    return (hi.astimezone(UTC) - lo.astimezone(UTC)).total_seconds()


def day_bounds(days: list[date], zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Each day's [start, end) as UTC instants, consecutive days sharing their bound."""
    starts = [day_start(day, zone) for day in (*days, days[-1] + timedelta(days=1))] if days else []
    return list(zip(starts, starts[1:]))


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
        """The period's first instant, UTC."""
        return day_start(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        """The instant after the period, UTC."""
        return day_start(self.end_day, self.zone)

    @property
    def start_local(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end_local(self) -> datetime:
        return local_midnight(self.end_day, self.zone)

    @property
    def seconds(self) -> int:
        """The period's length in elapsed seconds (a March with a spring-forward: 31 x 86,400 - 3,600)."""
        return int(elapsed_seconds(self.start, self.end))

    @property
    def minutes(self) -> Decimal:
        """The period's length in elapsed minutes, exact (a 30-minute DST shift keeps it whole)."""
        return Decimal(self.seconds) / 60

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


def quarter(year: int, quarter_number: int, zone: ZoneInfo) -> Period:
    """Calendar quarter Q (1-4) of the year: three calendar months, 'YYYY-Qn'."""
    first = date(year, 3 * (quarter_number - 1) + 1, 1)
    return Period(first, add_months(first, 3), zone, f"{year:04d}-Q{quarter_number}")


def year(year_number: int, zone: ZoneInfo) -> Period:
    """A calendar year, 'YYYY'."""
    return Period(date(year_number, 1, 1), date(year_number + 1, 1, 1), zone, f"{year_number:04d}")


def one_year_after(day: date) -> date:
    """The same day a year later (29 February: 1 March)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return date(day.year + 1, 3, 1)


def day_range(first_day: date, end_day: date, zone: ZoneInfo) -> Period:
    """Calendar days [first_day, end_day) of the zone, 'YYYY-MM-DD..YYYY-MM-DD' (the end exclusive)."""
    if end_day <= first_day:
        raise ValueError("a range ends after it starts")
    return Period(first_day, end_day, zone, f"{first_day.isoformat()}..{end_day.isoformat()}")


def months_in(period: Period) -> list[Period]:
    """The calendar months a period touches, in order, each whole (a range may cut its first and last)."""
    found = []
    first = period.first_day.replace(day=1)
    while first < period.end_day:
        found.append(month(first.year, first.month, period.zone))
        first = add_months(first, 1)
    return found
