"""Log lines as a process writes them (SLAMON_LOG_FORMAT through the settings, in a subprocess): JSON
lines carry every `extra` field; text lines end with service_id/region/job when present."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.app.conftest import ROOT

PROGRAM = """
import logging, uuid
from datetime import datetime, timezone
from app.config import get_settings
from app.logs import setup_logging

setup_logging(get_settings().log_format)
log = logging.getLogger("slamon.test")
log.info("attempt %d failed", 2, extra={"job": "notify_deliver", "delivery_id": uuid.UUID(int=7), "attempt": 2})
at = datetime(2026, 1, 2, tzinfo=timezone.utc)
log.warning("slow", extra={"service_id": "face-compare", "region": "seoul", "at": at})
log.info("no context")
log.info("clash", extra={"ts": "not the timestamp", "level": "not the level", "color_message": "x"})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("failed", extra={"job": "rollup_refresh"})
"""


def _lines(log_format: str) -> list[str]:
    env = {**os.environ, "SLAMON_LOG_FORMAT": log_format}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stderr.splitlines()


def test_json_lines_carry_every_extra_field():
    entries = [json.loads(line) for line in _lines("json")]
    assert [e["msg"] for e in entries] == ["attempt 2 failed", "slow", "no context", "clash", "failed"]
    attempt, slow, plain, clash, failed = entries
    assert attempt["job"] == "notify_deliver" and attempt["attempt"] == 2
    assert attempt["delivery_id"] == "00000000-0000-0000-0000-000000000007"  # not JSON itself: its text
    assert (slow["service_id"], slow["region"], slow["at"]) == ("face-compare", "seoul", "2026-01-02 00:00:00+00:00")
    assert slow["level"] == "warning" and slow["logger"] == "slamon.test"
    assert set(plain) == {"ts", "level", "logger", "msg"}
    # An extra never replaces the line's own keys; uvicorn's coloured copy of the message is left out.
    assert clash["ts"] != "not the timestamp" and clash["level"] == "info" and "color_message" not in clash
    assert failed["job"] == "rollup_refresh" and "ZeroDivisionError" in failed["exc"]


def test_text_lines_end_with_service_region_and_job():
    lines = _lines("text")
    attempt = next(line for line in lines if "attempt 2 failed" in line)
    assert attempt.endswith("INFO slamon.test: attempt 2 failed [job=notify_deliver]")
    assert "delivery_id" not in attempt
    slow = next(line for line in lines if ": slow" in line)
    assert slow.endswith("WARNING slamon.test: slow [service_id=face-compare region=seoul]")
    assert next(line for line in lines if "no context" in line).endswith("slamon.test: no context")
    failed = lines.index(next(line for line in lines if ": failed" in line))
    assert lines[failed].endswith("ERROR slamon.test: failed [job=rollup_refresh]")
    assert lines[failed + 1] == "Traceback (most recent call last):"  # the context stays on the message line
