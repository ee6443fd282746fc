"""Who is on call when: pure functions over a schedule's rotation and overrides (no I/O, `now` passed in).

Shifts are cut in the schedule's zone: shift n starts on start_date + n days (daily) or n weeks
(weekly) at handoff_time, wall clock, so a 09:00 handoff is at 09:00 on both sides of a DST change
(the shift across the change is an hour shorter or longer). A handoff time the zone skips (02:30 on
the spring-forward night) starts at the same offset as before the change (PEP 495, fold=0). The
effective timeline is the rotation with the overrides laid over it, the latest override on top."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Rotation:
    time_zone: str
    rotation: Literal["daily", "weekly"]
    handoff_time: time
    start_date: date
    participants: tuple[str, ...]

    @property
    def days(self) -> int:
        return 1 if self.rotation == "daily" else 7


@dataclass(frozen=True)
class Override:
    id: int
    username: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Segment:
    """[starts_at, ends_at) with `username` on call; `source` says whether the rotation or an override."""

    starts_at: datetime
    ends_at: datetime
    username: str
    source: Literal["rotation", "override"]


def handoff(rotation: Rotation, shift: int) -> datetime:
    """The UTC instant shift number `shift` starts."""
    day = rotation.start_date + timedelta(days=shift * rotation.days)
    local = datetime.combine(day, rotation.handoff_time, tzinfo=ZoneInfo(rotation.time_zone))
    return local.astimezone(timezone.utc)


def shift_at(rotation: Rotation, at: datetime) -> int:
    """The number of the shift running at `at` (negative before the first handoff)."""
    local_day = at.astimezone(ZoneInfo(rotation.time_zone)).date()
    shift = (local_day - rotation.start_date).days // rotation.days
    while handoff(rotation, shift) > at:
        shift -= 1
    while handoff(rotation, shift + 1) <= at:
        shift += 1
    return shift


def rotation_segments(rotation: Rotation, start: datetime, end: datetime) -> list[Segment]:
    """The rotation's shifts overlapping [start, end), cut to it; nobody before the first handoff."""
    segments = []
    shift = max(shift_at(rotation, start), 0)
    while (begins := handoff(rotation, shift)) < end:
        ends = handoff(rotation, shift + 1)
        if ends > start:
            username = rotation.participants[shift % len(rotation.participants)]
            segments.append(Segment(max(begins, start), min(ends, end), username, "rotation"))
        shift += 1
    return segments


def timeline(rotation: Rotation, overrides: list[Override], start: datetime, end: datetime) -> list[Segment]:
    """Who is on call over [start, end): the rotation with the overrides over it (the latest override,
    by id, wins where they overlap); adjacent pieces of one person and source are merged."""
    base = rotation_segments(rotation, start, end)
    cuts = {start, end}
    for segment in base:
        cuts |= {segment.starts_at, segment.ends_at}
    for override in overrides:
        cuts |= {max(start, min(end, override.starts_at)), max(start, min(end, override.ends_at))}
    bounds = sorted(cuts)
    result: list[Segment] = []
    for begins, ends in zip(bounds, bounds[1:], strict=False):
        piece = _who(base, overrides, begins)
        if piece is None:
            continue
        username, source = piece
        last = result[-1] if result else None
        if last and last.ends_at == begins and (last.username, last.source) == (username, source):
            result[-1] = Segment(last.starts_at, ends, username, source)
        else:
            result.append(Segment(begins, ends, username, source))
    return result


def _who(
    base: list[Segment], overrides: list[Override], at: datetime
) -> tuple[str, Literal["rotation", "override"]] | None:
    covering = [o for o in overrides if o.starts_at <= at < o.ends_at]
    if covering:
        return max(covering, key=lambda o: o.id).username, "override"
    for segment in base:
        if segment.starts_at <= at < segment.ends_at:
            return segment.username, "rotation"
    return None


def on_call(rotation: Rotation, overrides: list[Override], at: datetime) -> Segment | None:
    """Who is on call at `at`, and the whole stretch they are on call around it (their shift, or the
    override covering `at`)."""
    shift = max(shift_at(rotation, at), 0)
    covering = [o for o in overrides if o.starts_at <= at < o.ends_at]
    window_start = min([handoff(rotation, shift), at, *(o.starts_at for o in covering)]) - timedelta(days=1)
    window_end = max([handoff(rotation, shift + 1), at, *(o.ends_at for o in covering)]) + timedelta(days=1)
    for segment in timeline(rotation, overrides, window_start, window_end):
        if segment.starts_at <= at < segment.ends_at:
            return segment
    return None
