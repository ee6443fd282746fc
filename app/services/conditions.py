"""HTTP assertions as data: expected status set, keyword, JSON path (+ value). The same code that
evaluates a condition validates it (`compile_check`), so a config that loads is one that can run."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.services.models import CheckConfig

_SEGMENT = re.compile(r"^[A-Za-z0-9_\-$@]+$")
MAX_PATH_SEGMENTS = 32
_MISSING = object()


class ConditionError(ValueError):
    """A check configuration that can never be evaluated; the message names the field."""


@dataclass(frozen=True)
class JsonPath:
    """A dotted path: `status`, `data.items.0.state`; a numeric segment indexes a list."""

    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "JsonPath":
        if not isinstance(text, str) or not text.strip():
            raise ConditionError("json_path: must be a non-empty dotted path like 'data.items.0.state'")
        segments = tuple(text.strip().removeprefix("$.").split("."))
        if len(segments) > MAX_PATH_SEGMENTS:
            raise ConditionError(f"json_path: more than {MAX_PATH_SEGMENTS} segments")
        for segment in segments:
            if not _SEGMENT.match(segment):
                raise ConditionError(
                    f"json_path: invalid segment {segment!r} in {text!r} "
                    "(use letters, digits, _ - $ @, separated by dots)"
                )
        return cls(segments)

    def lookup(self, document: Any) -> Any:
        """The value at this path, or _MISSING."""
        node = document
        for segment in self.segments:
            if isinstance(node, dict):
                node = node.get(segment, _MISSING)
            elif isinstance(node, list) and segment.isdigit():
                index = int(segment)
                node = node[index] if index < len(node) else _MISSING
            else:
                return _MISSING
            if node is _MISSING:
                return _MISSING
        return node

    def __str__(self) -> str:
        return ".".join(self.segments)


@dataclass(frozen=True)
class CompiledCheck:
    expected_status: frozenset[int] | None
    keyword: str | None
    json_path: JsonPath | None
    json_value: Any

    def status_ok(self, status: int) -> bool:
        if self.expected_status is not None:
            return status in self.expected_status
        return 200 <= status < 400

    def assertion_error(self, body: bytes) -> str | None:
        """None when every assertion holds, else a message saying which one failed and why."""
        if self.keyword is not None and self.keyword.encode() not in body:
            return f"keyword {self.keyword!r} not found in the first {len(body)} bytes of the body"
        if self.json_path is None:
            return None
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return f"json_path {self.json_path}: body is not valid JSON"
        actual = self.json_path.lookup(document)
        if actual is _MISSING:
            return f"json_path {self.json_path}: not present in the response"
        if self.json_value is not None and not values_equal(actual, self.json_value):
            return f"json_path {self.json_path}: expected {self.json_value!r}, got {_short(actual)}"
        return None


def values_equal(actual: Any, expected: Any) -> bool:
    """JSON equality, with a string expectation also matching the JSON text of a scalar ('200', 'true')."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected or (isinstance(expected, str) and json.dumps(actual) == expected)
    if actual == expected:
        return True
    if isinstance(expected, str) and not isinstance(actual, (dict, list)):
        return json.dumps(actual) == expected
    return False


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def compile_check(check: CheckConfig, label: str = "check") -> CompiledCheck:
    """Validate and prepare a check's assertions; ConditionError names `label` and the field."""
    try:
        statuses = check.expected_status
        if statuses is not None:
            if not statuses or any(not 100 <= s <= 599 for s in statuses):
                raise ConditionError("expected_status: must list HTTP statuses between 100 and 599")
        if check.keyword is not None and not check.keyword:
            raise ConditionError("keyword: must not be empty")
        path = JsonPath.parse(check.json_path) if check.json_path is not None else None
        if check.json_value is not None and path is None:
            raise ConditionError("json_value: needs json_path")
    except ConditionError as exc:
        raise ConditionError(f"{label}: check.{exc}") from None
    return CompiledCheck(frozenset(statuses) if statuses else None, check.keyword, path, check.json_value)
