"""On-call schedules: rotations, overrides, who is on call when, and the iCalendar feed (docs/api.md, On-call)."""
