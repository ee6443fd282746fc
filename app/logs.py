"""Structured logging: JSON lines in production, readable lines in a terminal (`SLAMON_LOG_FORMAT`).

Context travels as `extra`: `log.info("…", extra={"job": "notify_deliver", "delivery_id": d})`.
A JSON line carries every extra field beside ts/level/logger/msg; a text line ends with the ones an
operator filters on (service_id, region, job) when the record has them.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

# What a text line shows, in this order, when present.
FIXED_FIELDS = ("service_id", "region", "job")
# Attributes every LogRecord has (and `message`/`asctime`, set by formatting): not extras.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# Extras some libraries add that only repeat the message (uvicorn: the message with ANSI colours).
_REPEATS_MESSAGE = frozenset({"color_message"})


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a record was given through `extra`, in the order they were given."""
    return {
        name: value
        for name, value in record.__dict__.items()
        if name not in _RECORD_ATTRIBUTES and name not in _REPEATS_MESSAGE and not name.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in extra_fields(record).items():
            entry.setdefault(name, value)  # an extra never overwrites the line's own keys
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # default=str: an extra that is not JSON (a UUID, a datetime) is written as its text.
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`<time> <LEVEL> <logger>: <message> [service_id=… region=… job=…]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        context = " ".join(f"{name}={getattr(record, name)}" for name in FIXED_FIELDS if hasattr(record, name))
        return f"{line} [{context}]" if context else line


def setup_logging(fmt: str = "auto", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
