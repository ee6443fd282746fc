"""Who is on call when, with the clock in the test's hands: handoffs at a wall-clock time in zones with
DST (New York, Berlin) stay at that wall-clock time across the change, times the zone skips or repeats
resolve as documented, overrides lay over the rotation (the latest on top), and nobody is on call
before the first handoff. Expected instants are written out in UTC by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from app.oncall.rotation import Override, Rotation, Segment, handoff, on_call, shift_at, timeline


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# New York: EST (-5) until 2026-03-08 02:00, then EDT (-4) until 2026-11-01 02:00.
WEEKLY_NY = Rotation("America/New_York", "weekly", time(9, 0), date(2026, 3, 2), ("ana", "ben", "cho"))


def test_weekly_handoff_stays_at_nine_local_across_spring_forward():
    assert handoff(WEEKLY_NY, 0) == utc(2026, 3, 2, 14, 0)  # 09:00 EST
    assert handoff(WEEKLY_NY, 1) == utc(2026, 3, 9, 13, 0)  # 09:00 EDT: that shift is 167 h long
    assert handoff(WEEKLY_NY, 1) - handoff(WEEKLY_NY, 0) == timedelta(hours=167)
    # A fixed 168 h period would still have ana on call here; the wall clock says ben.
    assert on_call(WEEKLY_NY, [], utc(2026, 3, 9, 13, 30)) == Segment(
        utc(2026, 3, 9, 13, 0), utc(2026, 3, 16, 13, 0), "ben", "rotation"
    )
    assert on_call(WEEKLY_NY, [], utc(2026, 3, 9, 12, 59)).username == "ana"
    assert on_call(WEEKLY_NY, [], utc(2026, 3, 16, 13, 0)).username == "cho"
    assert on_call(WEEKLY_NY, [], utc(2026, 3, 23, 13, 0)).username == "ana"  # round again


def test_weekly_handoff_across_fall_back_is_an_hour_longer():
    before, after = shift_at(WEEKLY_NY, utc(2026, 10, 30, 12)), shift_at(WEEKLY_NY, utc(2026, 11, 2, 13, 59))
    assert before == after  # 2026-10-26 .. 2026-11-02 is one shift
    assert handoff(WEEKLY_NY, after) == utc(2026, 10, 26, 13, 0)  # 09:00 EDT
    assert handoff(WEEKLY_NY, after + 1) == utc(2026, 11, 2, 14, 0)  # 09:00 EST
    assert handoff(WEEKLY_NY, after + 1) - handoff(WEEKLY_NY, after) == timedelta(hours=169)


@pytest.mark.parametrize(
    ("zone", "handoff_at", "day", "expected"),
    [
        # 02:30 does not exist in New York on 2026-03-08: the offset before the change applies (EST).
        ("America/New_York", time(2, 30), date(2026, 3, 8), utc(2026, 3, 8, 7, 30)),
        # 01:30 happens twice on 2026-11-01: the first one (EDT).
        ("America/New_York", time(1, 30), date(2026, 11, 1), utc(2026, 11, 1, 5, 30)),
        # Berlin: CET (+1) until 2026-03-29 02:00, then CEST (+2).
        ("Europe/Berlin", time(9, 0), date(2026, 3, 28), utc(2026, 3, 28, 8, 0)),
        ("Europe/Berlin", time(9, 0), date(2026, 3, 29), utc(2026, 3, 29, 7, 0)),
        # Seoul has no DST: always +9.
        ("Asia/Seoul", time(9, 0), date(2026, 7, 1), utc(2026, 7, 1, 0, 0)),
    ],
)
def test_daily_handoffs_in_zones(zone, handoff_at, day, expected):
    rotation = Rotation(zone, "daily", handoff_at, date(2026, 1, 1), ("ana", "ben"))
    shift = (day - date(2026, 1, 1)).days
    assert handoff(rotation, shift) == expected
    assert shift_at(rotation, expected) == shift
    assert shift_at(rotation, expected - timedelta(seconds=1)) == shift - 1
    assert on_call(rotation, [], expected).username == ("ana", "ben")[shift % 2]


def test_nobody_before_the_first_handoff():
    assert on_call(WEEKLY_NY, [], utc(2026, 3, 2, 13, 59)) is None
    assert timeline(WEEKLY_NY, [], utc(2026, 3, 1), utc(2026, 3, 2, 15)) == [
        Segment(utc(2026, 3, 2, 14), utc(2026, 3, 2, 15), "ana", "rotation")
    ]


def test_overrides_lay_over_the_rotation_latest_on_top():
    holiday = Override(1, "dee", utc(2026, 3, 10), utc(2026, 3, 12))  # inside ben's week
    swap = Override(2, "eve", utc(2026, 3, 11), utc(2026, 3, 11, 6))  # over the holiday: newer wins
    start, end = utc(2026, 3, 9), utc(2026, 3, 17)
    assert timeline(WEEKLY_NY, [swap, holiday], start, end) == [
        Segment(start, utc(2026, 3, 9, 13), "ana", "rotation"),
        Segment(utc(2026, 3, 9, 13), utc(2026, 3, 10), "ben", "rotation"),
        Segment(utc(2026, 3, 10), utc(2026, 3, 11), "dee", "override"),
        Segment(utc(2026, 3, 11), utc(2026, 3, 11, 6), "eve", "override"),
        Segment(utc(2026, 3, 11, 6), utc(2026, 3, 12), "dee", "override"),
        Segment(utc(2026, 3, 12), utc(2026, 3, 16, 13), "ben", "rotation"),
        Segment(utc(2026, 3, 16, 13), end, "cho", "rotation"),
    ]
    assert on_call(WEEKLY_NY, [holiday, swap], utc(2026, 3, 11, 3)) == Segment(
        utc(2026, 3, 11), utc(2026, 3, 11, 6), "eve", "override"
    )
    # An override spanning several shifts shows where it ends, not where the window was cut.
    long = Override(3, "fay", utc(2026, 3, 1), utc(2026, 4, 1))
    assert on_call(WEEKLY_NY, [long], utc(2026, 3, 20)) == Segment(utc(2026, 3, 1), utc(2026, 4, 1), "fay", "override")
