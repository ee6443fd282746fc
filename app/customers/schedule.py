"""When the customers' statements go out (docs/operations.md, Statement delivery): a day rule
('first-friday', 'first-monday', ..., a day of the month '1'..'28', or 'off'), a local time and a
zone. A month's statements are due at that moment of the following month; the worker delivers the
latest month whose moment has passed, within the catch-up days after it."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from app.periods import add_months

WEEKDAYS = {name.lower(): index for index, name in enumerate(calendar.day_name)}
FORMS = "'first-<weekday>' (e.g. 'first-friday'), a day of the month '1'..'28', or 'off'"


@dataclass(frozen=True)
class DayRule:
    weekday: int | None = None  # the first such weekday of the month (Monday 0)
    day_of_month: int | None = None

    def day_in(self, first_of_month: date) -> date:
        """The rule's day in the month that begins on `first_of_month`."""
        if self.day_of_month is not None:
            return first_of_month.replace(day=self.day_of_month)
        assert self.weekday is not None
        return first_of_month + timedelta(days=(self.weekday - first_of_month.weekday()) % 7)


def parse_day_rule(text: str) -> DayRule | None:
    """The rule a setting names (None for 'off'); ValueError naming the accepted forms."""
    value = text.strip().lower()
    if value == "off":
        return None
    if value.isdigit() and 1 <= int(value) <= 28:
        return DayRule(day_of_month=int(value))
    prefix, _, weekday = value.partition("-")
    if prefix == "first" and weekday in WEEKDAYS:
        return DayRule(weekday=WEEKDAYS[weekday])
    raise ValueError(f"statement delivery day must be {FORMS}, got {text!r}")


def moment(month_first_day: date, rule: DayRule, at: time, zone: ZoneInfo) -> datetime:
    """The instant (UTC) the statements of the month beginning `month_first_day` are due: the rule's
    day of the next month, at the local time (a time skipped by DST falls an hour later)."""
    day = rule.day_in(add_months(month_first_day, 1))
    local = datetime.combine(day, at, tzinfo=zone)
    return local.astimezone(timezone.utc)


def due_month(now: datetime, rule: DayRule | None, at: time, zone: ZoneInfo, catch_up: timedelta) -> date | None:
    """The first day of the month whose statements are due now: the latest whose moment has passed, if
    no longer ago than `catch_up`; None when nothing is due (or delivery is off)."""
    if rule is None:
        return None
    current = now.astimezone(zone).date().replace(day=1)
    for back in (1, 2):
        first = add_months(current, -back)
        due_at = moment(first, rule, at, zone)
        if due_at <= now:
            return first if now - due_at <= catch_up else None
    return None
