"""A schedule's iCalendar feed (RFC 5545, written by the `icalendar` library): one VEVENT per stretch
someone is on call, the overrides laid over the rotation, from a week back to FEED_DAYS ahead. UIDs are
stable for an unchanged stretch, so a calendar app that polls the feed updates rather than duplicates."""

from __future__ import annotations

from datetime import datetime, timedelta

import icalendar

from app.oncall.rotation import Segment

PAST_DAYS = 7
FEED_DAYS = 60
PRODID = "-//SLA Monitor//On-call schedules//EN"


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=PAST_DAYS), now + timedelta(days=FEED_DAYS)


def feed(schedule_id: str, schedule_name: str, segments: list[Segment], now: datetime, host: str) -> bytes:
    """The VCALENDAR document; times in UTC (no VTIMEZONE needed), DTSTAMP the time of the request."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"On call: {schedule_name}")
    for segment in segments:
        event = icalendar.Event()
        start_stamp = segment.starts_at.strftime("%Y%m%dT%H%M%SZ")
        event.add("uid", f"{schedule_id}-{start_stamp}-{segment.username}-{segment.source}@{host}")
        event.add("dtstamp", now)
        event.add("dtstart", segment.starts_at)
        event.add("dtend", segment.ends_at)
        label = " (override)" if segment.source == "override" else ""
        event.add("summary", f"On call: {segment.username}{label}")
        event.add("description", f"{schedule_name} ({schedule_id}): {segment.username} is on call{label}.")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    document: bytes = calendar.to_ical()
    return document
