"""On-call schedules: the contract of escalation.toml's `[[schedules]]` and /api/oncall/schedules
(snake_case in, camelCase out, as escalation policies), and the read shapes of the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.contract import ApiModel, JsonObject
from app.users.models import USERNAME

ScheduleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")]
Username = Annotated[str, StringConstraints(pattern=USERNAME)]
MAX_PARTICIPANTS = 100
MAX_OVERRIDES = 200
MAX_SPAN_DAYS = 92  # the longest window a timeline read or the calendar feed covers


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Seoul)") from None
    return name


EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return value


def _date_in_range(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return value


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a wall-clock time without an offset (the schedule's time_zone applies)")
    return value


# An instant with its offset, in the years schedules are for (their arithmetic never leaves datetime's).
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("participants must not repeat a user")
    return values


class OverrideBody(BaseModel):
    """A user on call for [starts_at, ends_at) instead of the rotation's (holidays, swaps)."""

    model_config = ConfigDict(extra="forbid")
    username: Username
    starts_at: Instant
    ends_at: Instant
    note: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ScheduleBody(BaseModel):
    """A schedule as escalation.toml and PUT take it (the id is the path's, or the file's `id`)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    time_zone: Annotated[str, Field(max_length=64), AfterValidator(_zone)] = Field(
        description="IANA zone the handoff time is in"
    )
    rotation: Literal["daily", "weekly"]
    handoff_time: Annotated[time, AfterValidator(_wall_clock)] = Field(
        description="wall-clock time of each handoff in time_zone, e.g. 09:00"
    )
    start_date: Annotated[date, AfterValidator(_date_in_range)] = Field(
        description="the date of the first shift; weekly handoffs fall on its weekday"
    )
    participants: Annotated[
        list[Username], Field(min_length=1, max_length=MAX_PARTICIPANTS), AfterValidator(_unique)
    ] = Field(description="usernames, in the order they take the shifts")


class ScheduleCreate(ScheduleBody):
    id: ScheduleId


class ScheduleFile(ScheduleCreate):
    """A schedule of escalation.toml: the file may list its overrides too (it owns them)."""

    overrides: list[OverrideBody] = Field(default_factory=list, max_length=MAX_OVERRIDES)


# ---- answers: records the service returns (camelCase on the wire: app.contract.ApiModel) ----


class OnCallRecord(ApiModel):
    """A read of this domain: attributes in Python, the API's JSON with `to_public` (the console's page
    data). Instants stay datetimes, written as pydantic writes them ("Z" for UTC, else the offset)."""

    model_config = ConfigDict(frozen=True)

    def to_public(self) -> JsonObject:
        return self.model_dump(mode="json")


class OnCallRead(OnCallRecord):
    """Who is on call over [starts_at, ends_at), by the rotation or an override."""

    username: str
    source: Literal["rotation", "override"]
    starts_at: datetime
    ends_at: datetime


class OverrideRead(OnCallRecord):
    id: int
    username: str
    starts_at: datetime
    ends_at: datetime
    note: str
    managed_by: Literal["config", "api"]
    created_by: str


class ScheduleRead(OnCallRecord):
    id: str
    name: str
    time_zone: str
    rotation: Literal["daily", "weekly"]
    handoff_time: str = Field(description="HH:MM, wall clock in timeZone")
    start_date: date
    participants: list[str]
    managed_by: Literal["config", "api"]
    on_call_now: OnCallRead | None = Field(description="null before the first handoff")
    overrides: list[OverrideRead] = Field(description="current and future overrides")
    feed_url: str | None = Field(
        description="the iCalendar feed (its token is the credential); admins only, null for others"
    )
    created_at: datetime
    updated_at: datetime


class ScheduleOne(ApiModel):
    schedule: ScheduleRead


class ScheduleList(ApiModel):
    schedules: list[ScheduleRead]


class OnCallAt(ApiModel):
    schedule_id: str
    at: datetime
    on_call: OnCallRead | None = Field(description="null before the first handoff")


class Timeline(ApiModel):
    schedule_id: str
    start: datetime
    end: datetime
    segments: list[OnCallRead]


class OverrideOne(ApiModel):
    override: OverrideRead


class Deleted(BaseModel):
    success: bool
