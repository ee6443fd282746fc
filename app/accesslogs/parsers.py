"""Access-log lines to API calls: AWS Application Load Balancer logs and nginx's combined format with
`$request_time` appended. A parser returns a `Parsed` call or raises LineError saying what is wrong.

- ALB (the documented space-separated entry): ts = `request_creation_time` (when the load balancer
  received the request); latency = request + target + response processing times, or, when one of
  them is -1 (no target answered), `time` - `request_creation_time`; status = `elb_status_code`
  (what the client got); method and path from `request`.
- nginx: `log_format slamon_combined '$remote_addr - $remote_user [$time_local] "$request" $status
  $body_bytes_sent "$http_referer" "$http_user_agent" $request_time';` ts = `$time_local` (when nginx
  logged the request: its end, to the second); latency = `$request_time`.
The endpoint is the request's path without its query string (queries vary per call and may carry
secrets); seconds become milliseconds rounded half up."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple
from urllib.parse import urlsplit

FORMATS = ("alb", "nginx")
# a field: a quoted string (backslash escapes kept as written) or a run of non-spaces
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
ALB_TYPES = frozenset({"http", "https", "h2", "grpcs", "ws", "wss"})
NGINX_LINE = re.compile(
    r'(?P<addr>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\S+) '
    r'(?P<bytes>\S+) "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*" (?P<request_time>\S+)$'
)
NGINX_TIME = "%d/%b/%Y:%H:%M:%S %z"
ALB_FIELDS = 22  # through request_creation_time; newer fields after it are not needed


class LineError(ValueError):
    """What is wrong with a line (the caller adds the file and line number)."""


class Parsed(NamedTuple):
    ts: datetime
    method: str
    endpoint: str
    status_code: int
    latency_ms: int


def milliseconds(seconds: str, what: str) -> int:
    try:
        value = Decimal(seconds)
    except InvalidOperation:
        raise LineError(f"{what} {seconds!r} is not a number of seconds") from None
    if not value.is_finite() or value < 0:
        raise LineError(f"{what} {seconds!r} is not a duration")
    return int((value * 1000).to_integral_value(rounding=ROUND_HALF_UP))


def _status(text: str, what: str) -> int:
    if not text.isdigit() or not 100 <= int(text) <= 599:
        raise LineError(f"{what} {text!r} is not an HTTP status")
    return int(text)


def _request(request: str) -> tuple[str, str]:
    """(method, path) of a request line 'GET http://host:80/path?q HTTP/1.1' or 'GET /path?q HTTP/1.1'."""
    parts = request.split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or parts[0] == "-":
        raise LineError(f"request {request[:80]!r} is not 'METHOD URL PROTOCOL'")
    url = urlsplit(parts[1])
    return parts[0], url.path or "/"


def _iso(text: str, what: str) -> datetime:
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise LineError(f"{what} {text!r} is not an ISO 8601 time") from None
    if ts.tzinfo is None:
        raise LineError(f"{what} {text!r} has no UTC offset")
    return ts


def parse_alb(line: str) -> Parsed:
    fields = [m[1] if m[1] is not None else m[2] for m in TOKEN.finditer(line)]
    if len(fields) < ALB_FIELDS or fields[0] not in ALB_TYPES:
        raise LineError(f"not an ALB access-log entry ({len(fields)} fields, type {fields[0] if fields else ''!r})")
    status = _status(fields[8], "elb_status_code")
    method, path = _request(fields[12])
    received = _iso(fields[21], "request_creation_time")
    times = fields[5:8]
    if "-1" in times:  # no target answered: the time the client waited
        waited_us = (_iso(fields[1], "time") - received) // timedelta(microseconds=1)
        if waited_us < 0:
            raise LineError("time is before request_creation_time")
        latency_ms = (waited_us + 500) // 1000
    else:
        latency_ms = sum(milliseconds(t, name) for t, name in zip(times, ("request", "target", "response")))
    return Parsed(received, method, path, status, latency_ms)


def parse_nginx(line: str) -> Parsed:
    match = NGINX_LINE.match(line)
    if match is None:
        raise LineError("not nginx's combined format followed by $request_time")
    try:
        ts = datetime.strptime(match["time"], NGINX_TIME)
    except ValueError:
        raise LineError(f"$time_local {match['time']!r} is not like 10/Oct/2025:13:55:36 +0000") from None
    method, path = _request(match["request"])
    status = _status(match["status"], "$status")
    return Parsed(ts, method, path, status, milliseconds(match["request_time"], "$request_time"))


PARSERS: dict[str, Callable[[str], Parsed]] = {"alb": parse_alb, "nginx": parse_nginx}


def detect(line: str) -> str | None:
    """The format of a log from one of its lines, or None when it is neither."""
    first = line.split(" ", 1)[0]
    if first in ALB_TYPES:
        return "alb"
    return "nginx" if NGINX_LINE.match(line) else None
