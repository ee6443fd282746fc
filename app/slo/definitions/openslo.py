"""OpenSLO v1 YAML to SLO definitions and back (docs/slos.md#openslo).

`parse` reads one or more files of OpenSLO v1 objects (multi-document YAML, or a list of objects
per document) of the kinds SLO, SLI, AlertPolicy, AlertCondition and Service; SLOs reference SLIs
(`indicatorRef`), alert policies (`alertPolicyRef`) and policies conditions (`conditionRef`) by name
within the same file set, or inline them. Every problem of the whole set is collected as a `Problem`
naming the document (file and object number), the SLO and the dotted field path, and raised
together as `OpenSloError`: nothing is half-read. Fields this project cannot honour are refused, not
ignored (docs/slos.md#what-is-refused).

`export` writes definitions as self-contained SLO objects (indicator and alert policies inline) that
`parse` reads back to equal definitions.

The SQL at the bottom (`load`, `apply`, `put`, `delete`) writes `slo_definitions` (sql/300), the same
table as app/slo/definitions/store.py, for `slamon slo apply` and the admin API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import asyncpg
import yaml

from app.slo.definitions import store, tiers
from app.slo.definitions.model import (
    NAME,
    Alert,
    BurnRateAlert,
    Compare,
    Definition,
    DefinitionError,
    Filter,
    Measure,
    Severity,
    Sli,
    Source,
    ThresholdAlert,
    Window,
)

API_VERSION = "openslo/v1"
KINDS = ("SLO", "SLI", "AlertPolicy", "AlertCondition", "Service")
METRIC_SOURCE_TYPE = "slamon"
SERVICES_ANNOTATION = "slamon/services"  # more than one service, or "*": every active service
TIER_ANNOTATION = "slamon/tier"  # on the export of a built-in tier definition (read-only)
THRESHOLD_KIND = "slamon/threshold"  # our AlertCondition kind for threshold alerts (an extension)
CALENDAR_START = "2024-01-01 00:00:00"  # a Monday, the first of a month and of a quarter
SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdwMQY])$")
MINUTES = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
MEASURES: dict[str, Measure] = {
    "goodPercent": "good_percent",
    "badPercent": "bad_percent",
    "percentileMs": "percentile_ms",
}
SEVERITIES: tuple[Severity, ...] = ("WARNING", "CRITICAL")
CALENDAR_UNITS = {"1w": "week", "1M": "month", "1Q": "quarter"}
MAX_DESCRIPTION = 1050  # OpenSLO's limit
LARGEST = 10**12  # numbers (targets, thresholds, factors, percentiles) are smaller than this


# -- errors ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong: in `document` ("slos.yaml#3": the file and the object's number in it, from
    1), of SLO `slo` (None for an object no SLO uses), at `field` (dotted path within the object)."""

    document: str
    slo: str | None
    field: str
    message: str

    def __str__(self) -> str:
        slo = f" SLO {self.slo!r}" if self.slo else ""
        where = f" {self.field}:" if self.field else ""
        return f"{self.document}{slo}:{where} {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"document": self.document, "slo": self.slo, "field": self.field, "message": self.message}


class OpenSloError(ValueError):
    """Every problem of a file set; `problems` in document order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Invalid(Exception):
    """Raised inside the reader once a problem is recorded: the object cannot be built."""


# -- YAML with exact numbers -----------------------------------------------------------------------


# Safe YAML whose floats are Decimals (0.999 stays 0.999) and whose timestamps stay strings; PyYAML
# has no types here (pyproject.toml), hence the classes built with type().
_Loader: Any = type("_Loader", (yaml.SafeLoader,), {})
_Dumper: Any = type("_Dumper", (yaml.SafeDumper,), {})


def _decimal(loader: Any, node: Any) -> Decimal | str:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text  # .inf, .nan: refused as "not a number" where a number is expected
    return value if value.is_finite() else text


def _represent_decimal(dumper: Any, value: Decimal) -> Any:
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(value.normalize(), "f"))


def _represent_str(dumper: Any, value: str) -> Any:
    # YAML folds NEL and the Unicode line and paragraph separators outside double quotes
    style = '"' if any(ch in value for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(str, _represent_str)


# -- reading ---------------------------------------------------------------------------------------


@dataclass
class _Doc:
    label: str  # "file#n"
    kind: str
    name: str
    body: dict[str, Any]


@dataclass
class _Cond:
    severity: Severity
    kind: Literal["burnrate", "threshold"]
    long_minutes: int = 0
    short_minutes: int = 0
    factor: Decimal = Decimal(0)
    measure: Measure = "good_percent"
    compare: Compare = "lt"
    value: Decimal = Decimal(0)
    minutes: int = 0


class _Reader:
    """Walks one object, recording problems with its document, SLO and path."""

    def __init__(self, problems: list[Problem], document: str, slo: str | None) -> None:
        self.problems, self.document, self.slo = problems, document, slo

    def fail(self, path: str, message: str) -> Invalid:
        self.problems.append(Problem(self.document, self.slo, path, message))
        return Invalid(path)

    def mapping(self, value: Any, path: str, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_shown(value)}")
        allowed = set(allowed)
        for key in value:  # recorded, and the reading goes on: every problem of the object is reported
            if not isinstance(key, str) or key not in allowed:
                self.fail(_join(path, str(key)), f"unknown field '{_join(path, str(key))}'")
        bad = False
        for key in required:
            if value.get(key) is None:
                self.fail(_join(path, key), "required")
                bad = True
        if bad:
            raise Invalid(path)
        return value

    def text(self, value: Any, path: str, limit: int = 255) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"expected a string, got {_shown(value)}")
        if len(value) > limit:
            raise self.fail(path, f"at most {limit} characters")
        if not storable(value):
            raise self.fail(path, "text must be Unicode without NUL (U+0000) or lone surrogates")
        return value

    def name(self, value: Any, path: str) -> str:
        text = self.text(value, path)
        if not NAME.match(text):
            raise self.fail(path, "lowercase letters, digits and '-', at most 63, as a DNS label")
        return text

    def number(self, value: Any, path: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise self.fail(path, f"expected a number, got {_shown(value)}")
        if not -LARGEST < value < LARGEST:
            raise self.fail(path, f"out of range: at most {LARGEST:,} in size")
        return Decimal(value)

    def integer(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected a whole number, got {_shown(value)}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {_shown(value)}")
        return value

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list of strings, got {_shown(value)}")
        return tuple(self.text(item, f"{path}[{i}]", 500) for i, item in enumerate(value))

    def minutes(self, value: Any, path: str) -> int:
        """A duration-shorthand of minutes, hours, days or weeks, in minutes."""
        found = DURATION.match(value) if isinstance(value, str) else None
        if found is None or found.group(2) not in MINUTES:
            raise self.fail(path, f"expected a duration such as 5m, 1h or 2d, got {_shown(value)}")
        return int(found.group(1)) * MINUTES[found.group(2)]

    def collect(self, build: Callable[[], Any]) -> Any:
        """build(), or None once it recorded problems."""
        try:
            return build()
        except Invalid:
            return None


def storable(text: str) -> bool:
    """Whether PostgreSQL can store `text` (UTF-8, no NUL)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value if not isinstance(value, Decimal) else format(value, "f"))


def _read_documents(sources: Sequence[tuple[str, str]], problems: list[Problem]) -> list[_Doc]:
    docs: list[_Doc] = []
    for filename, text in sources:
        number = 0
        try:
            loaded = list(yaml.load_all(text, Loader=_Loader))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            problems.append(Problem(filename, None, "", f"not valid YAML{where}: {getattr(exc, 'problem', exc)}"))
            continue
        for document in loaded:
            for item in document if isinstance(document, list) else [document]:
                if item is None:
                    continue
                number += 1
                label = f"{filename}#{number}"
                doc = _read_header(item, label, problems)
                if doc is not None:
                    docs.append(doc)
        if number == 0:
            problems.append(Problem(filename, None, "", "holds no OpenSLO objects"))
    return docs


def _read_header(item: Any, label: str, problems: list[Problem]) -> _Doc | None:
    metadata = item.get("metadata") if isinstance(item, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    is_slo = isinstance(item, dict) and item.get("kind") == "SLO"
    reader = _Reader(problems, label, name if isinstance(name, str) and is_slo else None)
    try:
        body = reader.mapping(item, "", ("apiVersion", "kind", "metadata", "spec"), ("apiVersion", "kind", "metadata"))
        if body["apiVersion"] != API_VERSION:
            raise reader.fail("apiVersion", f"expected {API_VERSION!r}, got {_shown(body['apiVersion'])}")
        kind = body["kind"]
        if kind not in KINDS:
            raise reader.fail("kind", f"kind {_shown(kind)} is not supported: one of {', '.join(KINDS)}")
        metadata = body["metadata"]
        if not isinstance(metadata, dict):
            raise reader.fail("metadata", "expected a mapping")
        return _Doc(label, kind, reader.name(metadata.get("name"), "metadata.name"), body)
    except Invalid:
        return None


class _Parser:
    def __init__(self, docs: list[_Doc], reporting_zone: str, problems: list[Problem]) -> None:
        self.docs, self.zone, self.problems = docs, reporting_zone, problems
        self.named: dict[tuple[str, str], _Doc] = {}
        self.done: dict[tuple[str, str], Any] = {}  # (kind, name) -> built object, or None if invalid

    def run(self) -> list[Definition]:
        for doc in self.docs:
            key = (doc.kind, doc.name)
            if key in self.named:
                first = self.named[key].label
                slo = doc.name if doc.kind == "SLO" else None
                self.problems.append(
                    Problem(doc.label, slo, "metadata.name", f"a second {doc.kind} {doc.name!r} ({first})")
                )
                continue
            self.named[key] = doc
        definitions = []
        for doc in self.named.values():
            if doc.kind == "SLO":
                built = self._slo(doc)
                if built is not None:
                    definitions.append(built)
        for key, doc in self.named.items():  # objects no SLO uses are checked all the same
            if doc.kind != "SLO" and key not in self.done:
                self._object(doc, None)
        return definitions

    # objects by reference, each read once whichever SLO uses it first

    def _object(self, doc: _Doc, slo: str | None) -> Any:
        key = (doc.kind, doc.name)
        if key not in self.done:
            reader = _Reader(self.problems, doc.label, slo)
            read = {
                "SLI": self._sli_object,
                "AlertPolicy": self._policy_object,
                "AlertCondition": self._condition_object,
                "Service": self._service_object,
            }[doc.kind]
            self.done[key] = reader.collect(lambda: read(reader, doc.body, "", doc.name))
        return self.done[key]

    def _ref(self, reader: _Reader, kind: str, value: Any, path: str) -> Any:
        name = reader.text(value, path)
        doc = self.named.get((kind, name))
        if doc is None:
            raise reader.fail(path, f"no {kind} named {name!r} in the files applied together")
        built = self._object(doc, reader.slo)
        if built is None:
            raise reader.fail(path, f"{kind} {name!r} is invalid ({doc.label})")
        return built

    # SLO

    def _slo(self, doc: _Doc) -> Definition | None:
        reader = _Reader(self.problems, doc.label, doc.name)
        parts: dict[str, Any] = {}
        body = doc.body

        def metadata() -> None:
            meta = reader.mapping(body["metadata"], "metadata", ("name", "displayName", "labels", "annotations"))
            parts["display_name"] = (
                doc.name
                if meta.get("displayName") is None
                else reader.text(meta["displayName"], "metadata.displayName")
            )
            parts["labels"] = self._labels(reader, meta.get("labels"))
            annotations = self._annotations(reader, meta.get("annotations"))
            parts["annotations"] = annotations
            parts["tier"] = annotations.get(TIER_ANNOTATION)

        reader.collect(metadata)
        try:
            spec = reader.mapping(
                body.get("spec"),
                "spec",
                (
                    "description",
                    "service",
                    "indicator",
                    "indicatorRef",
                    "timeWindow",
                    "budgetingMethod",
                    "objectives",
                    "alertPolicies",
                ),
                ("service", "timeWindow", "budgetingMethod", "objectives"),
            )
        except Invalid:
            return None

        def description() -> None:
            value = spec.get("description")
            parts["description"] = "" if value is None else reader.text(value, "spec.description", MAX_DESCRIPTION)

        reader.collect(description)
        if "annotations" in parts:
            reader.collect(lambda: parts.__setitem__("services", self._services(reader, spec, parts["annotations"])))
        reader.collect(lambda: parts.__setitem__("sli", self._indicator(reader, spec)))
        reader.collect(lambda: parts.__setitem__("window", self._window(reader, spec["timeWindow"])))
        reader.collect(lambda: self._budgeting(reader, spec["budgetingMethod"]))
        reader.collect(lambda: parts.update(self._objectives(reader, spec["objectives"])))
        reader.collect(lambda: parts.__setitem__("alerts", self._alert_policies(reader, spec.get("alertPolicies"))))
        wanted = (
            "display_name",
            "labels",
            "tier",
            "description",
            "services",
            "sli",
            "window",
            "target",
            "op",
            "alerts",
        )
        if any(key not in parts for key in wanted):
            return None
        definition = Definition(
            name=doc.name,
            display_name=parts["display_name"],
            description=parts["description"],
            services=parts["services"],
            sli=parts["sli"],
            window=parts["window"],
            target=parts["target"],
            op=parts["op"],
            alerts=parts["alerts"],
            labels=parts["labels"],
            tier=parts["tier"],
        )
        try:
            return definition.check()
        except DefinitionError as exc:
            message = exc.message.replace("latency_below_ms", "latencyBelowMs")
            self.problems.append(Problem(doc.label, doc.name, openslo_field(exc.field, definition), message))
            return None

    def _labels(self, reader: _Reader, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        labels = reader.mapping(value, "metadata.labels", value.keys() if isinstance(value, dict) else ())
        out: dict[str, str] = {}
        for key, item in labels.items():
            out[reader.text(key, "metadata.labels", 63)] = reader.text(item, f"metadata.labels.{key}")
        return out

    def _annotations(self, reader: _Reader, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        annotations = reader.mapping(value, "metadata.annotations", (SERVICES_ANNOTATION, TIER_ANNOTATION))
        return {key: reader.text(item, f"metadata.annotations.{key}", 2000) for key, item in annotations.items()}

    def _services(self, reader: _Reader, spec: dict[str, Any], annotations: dict[str, str]) -> tuple[str, ...]:
        service = reader.text(spec["service"], "spec.service")
        listed = annotations.get(SERVICES_ANNOTATION)
        if listed is None:
            if not SERVICE_ID.match(service):
                raise reader.fail("spec.service", f"{service!r} is not a service id")
            return (service,)
        path = f"metadata.annotations.{SERVICES_ANNOTATION}"
        if listed.strip() == "*":
            return ()
        services = tuple(s.strip() for s in listed.split(","))
        for s in services:
            if not SERVICE_ID.match(s):
                raise reader.fail(path, f"{s!r} is not a service id (a comma-separated list, or '*')")
        if len(set(services)) != len(services):
            raise reader.fail(path, "names a service twice")
        if service not in services:
            raise reader.fail("spec.service", f"{service!r} is not among {path}")
        return services

    def _indicator(self, reader: _Reader, spec: dict[str, Any]) -> Sli:
        inline, ref = spec.get("indicator"), spec.get("indicatorRef")
        if (inline is None) == (ref is None):
            raise reader.fail("spec.indicator", "give exactly one of indicator and indicatorRef")
        if ref is not None:
            sli: Sli = self._ref(reader, "SLI", ref, "spec.indicatorRef")
            return sli
        inline = reader.mapping(inline, "spec.indicator", ("metadata", "spec"), ("spec",))
        if inline.get("metadata") is not None:
            reader.mapping(inline["metadata"], "spec.indicator.metadata", ("name", "displayName"))
            if inline["metadata"].get("name") is not None:
                reader.name(inline["metadata"]["name"], "spec.indicator.metadata.name")
        return self._sli_spec(reader, inline["spec"], "spec.indicator.spec")

    def _window(self, reader: _Reader, value: Any) -> Window:
        path = "spec.timeWindow"
        if not isinstance(value, list) or len(value) != 1:
            raise reader.fail(path, "exactly one time window")
        path += "[0]"
        item = reader.mapping(value[0], path, ("duration", "isRolling", "calendar"), ("duration",))
        duration = item["duration"]
        rolling = item.get("isRolling", item.get("calendar") is None)
        rolling = reader.boolean(rolling, f"{path}.isRolling")
        found = DURATION.match(duration) if isinstance(duration, str) else None
        if found is None:
            raise reader.fail(f"{path}.duration", f"expected a duration such as 28d, 1w or 1M, got {_shown(duration)}")
        if rolling:
            if item.get("calendar") is not None:
                raise reader.fail(f"{path}.calendar", "a rolling window has no calendar")
            count, unit = int(found.group(1)), found.group(2)
            days = count if unit == "d" else count * 7 if unit == "w" else None
            if days is None or not 1 <= days <= 91:
                raise reader.fail(f"{path}.duration", f"a rolling window is 1d to 91d (or 1w to 13w), got {duration!r}")
            return Window("rolling", days=days)
        unit_name = CALENDAR_UNITS.get(duration)
        if unit_name is None:
            raise reader.fail(f"{path}.duration", f"a calendar window is 1w, 1M or 1Q, got {duration!r}")
        if item.get("calendar") is not None:
            self._calendar(reader, item["calendar"], f"{path}.calendar", unit_name)
        return Window("calendar", unit=unit_name)  # type: ignore[arg-type]

    def _calendar(self, reader: _Reader, value: Any, path: str, unit: str) -> None:
        calendar = reader.mapping(value, path, ("startTime", "timeZone"))
        zone = calendar.get("timeZone")
        if zone is not None and zone != self.zone:
            raise reader.fail(
                f"{path}.timeZone", f"calendar windows are in the reporting time zone {self.zone!r}, got {_shown(zone)}"
            )
        start = calendar.get("startTime")
        if start is None:
            return
        try:
            when = datetime.strptime(reader.text(start, f"{path}.startTime"), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise reader.fail(f"{path}.startTime", "expected 'YYYY-MM-DD HH:MM:SS'") from None
        aligned = when.time() == datetime.min.time() and (
            when.weekday() == 0 if unit == "week" else when.day == 1 and (unit == "month" or when.month % 3 == 1)
        )
        if not aligned:
            starts = {"week": "a Monday", "month": "the first of a month", "quarter": "the first of a quarter"}[unit]
            raise reader.fail(f"{path}.startTime", f"a calendar {unit} starts at 00:00:00 on {starts}")

    def _budgeting(self, reader: _Reader, value: Any) -> None:
        if value != "Occurrences":
            supported = value in ("Timeslices", "RatioTimeslices")
            raise reader.fail(
                "spec.budgetingMethod",
                f"budgetingMethod {_shown(value)} is not supported: only Occurrences"
                + (" (good events / all events; threshold alerts measure 5-minute buckets)" if supported else ""),
            )

    def _objectives(self, reader: _Reader, value: Any) -> dict[str, Any]:
        path = "spec.objectives"
        if not isinstance(value, list) or len(value) != 1:
            raise reader.fail(path, "exactly one objective (write one SLO per target)")
        path += "[0]"
        allowed = (
            "displayName",
            "op",
            "value",
            "target",
            "targetPercent",
            "timeSliceTarget",
            "timeSliceWindow",
            "indicator",
            "indicatorRef",
            "compositeWeight",
        )
        item = reader.mapping(value[0], path, allowed)
        for key, why in (
            ("value", "needs a thresholdMetric, which is not supported"),
            ("timeSliceTarget", "needs budgetingMethod Timeslices, which is not supported"),
            ("timeSliceWindow", "needs budgetingMethod Timeslices or RatioTimeslices, which are not supported"),
            ("indicator", "composite SLOs are not supported"),
            ("indicatorRef", "composite SLOs are not supported"),
            ("compositeWeight", "composite SLOs are not supported"),
        ):
            if key in item:  # recorded; the rest of the objective is still read
                reader.fail(f"{path}.{key}", f"{key} is not supported: {why}")
        if item.get("displayName") is not None:
            reader.text(item["displayName"], f"{path}.displayName")
        op = item.get("op", "gte")
        if op not in ("gte", "gt"):
            raise reader.fail(f"{path}.op", f"op {_shown(op)} is not supported: gte or gt (good events against target)")
        if ("target" in item) == ("targetPercent" in item):
            raise reader.fail(f"{path}.target", "give exactly one of target and targetPercent")
        if "target" in item:
            target = reader.number(item["target"], f"{path}.target")
            if not Decimal(0) < target < Decimal(1):
                raise reader.fail(f"{path}.target", f"a ratio between 0 and 1, exclusive, got {format(target, 'f')}")
            percent = target.scaleb(2)
        else:
            percent = reader.number(item["targetPercent"], f"{path}.targetPercent")
            if not Decimal(0) < percent < Decimal(100):
                raise reader.fail(
                    f"{path}.targetPercent", f"a percentage between 0 and 100, exclusive, got {format(percent, 'f')}"
                )
        return {"target": _tidy(percent), "op": op}

    def _alert_policies(self, reader: _Reader, value: Any) -> tuple[Alert, ...]:
        if value is None:
            return ()
        path = "spec.alertPolicies"
        if not isinstance(value, list):
            raise reader.fail(path, "expected a list")
        alerts: list[Alert] = []
        bad = False
        for index, item in enumerate(value):
            here = f"{path}[{index}]"
            try:
                if isinstance(item, dict) and "alertPolicyRef" in item:
                    reader.mapping(item, here, ("alertPolicyRef",))
                    alerts.append(self._ref(reader, "AlertPolicy", item["alertPolicyRef"], f"{here}.alertPolicyRef"))
                else:
                    policy = reader.mapping(item, here, ("kind", "metadata", "spec"), ("kind", "metadata", "spec"))
                    if policy["kind"] != "AlertPolicy":
                        raise reader.fail(f"{here}.kind", f"expected AlertPolicy, got {_shown(policy['kind'])}")
                    meta = reader.mapping(policy["metadata"], f"{here}.metadata", ("name", "displayName"), ("name",))
                    name = reader.name(meta["name"], f"{here}.metadata.name")
                    alerts.append(self._policy_spec(reader, policy["spec"], f"{here}.spec", name))
            except Invalid:
                bad = True
        if bad:
            raise Invalid(path)
        return tuple(alerts)

    # SLI

    def _sli_object(self, reader: _Reader, body: dict[str, Any], path: str, name: str) -> Sli:
        self._nested_metadata(reader, body)
        return self._sli_spec(reader, body.get("spec"), "spec")

    def _nested_metadata(self, reader: _Reader, body: dict[str, Any]) -> None:
        reader.mapping(body["metadata"], "metadata", ("name", "displayName"))
        if body["metadata"].get("displayName") is not None:
            reader.text(body["metadata"]["displayName"], "metadata.displayName")

    def _sli_spec(self, reader: _Reader, value: Any, path: str) -> Sli:
        spec = reader.mapping(value, path, ("description", "ratioMetric", "thresholdMetric"))
        if spec.get("description") is not None:
            reader.text(spec["description"], f"{path}.description", MAX_DESCRIPTION)
        if "thresholdMetric" in spec:
            raise reader.fail(
                f"{path}.thresholdMetric", "thresholdMetric is not supported: write a ratioMetric (docs/slos.md)"
            )
        if spec.get("ratioMetric") is None:
            raise reader.fail(f"{path}.ratioMetric", "required")
        path += ".ratioMetric"
        ratio = reader.mapping(
            spec["ratioMetric"], path, ("counter", "good", "bad", "total", "raw", "rawType"), ("total",)
        )
        for key in ("raw", "rawType"):
            if key in ratio:
                reader.fail(f"{path}.{key}", f"{key} is not supported: give good or bad, and total")
        if ratio.get("counter", True) is not True:
            reader.fail(f"{path}.counter", "counter: false is not supported: events are counted")
        if ("good" in ratio) == ("bad" in ratio):
            raise reader.fail(f"{path}.good", "give exactly one of good and bad")
        which = "good" if "good" in ratio else "bad"
        source, events, _ = self._metric(reader, ratio["total"], f"{path}.total", percentile_allowed=False)
        numerator_source, numerator, percentile = self._metric(
            reader, ratio[which], f"{path}.{which}", percentile_allowed=which == "good"
        )
        if numerator_source != source:
            raise reader.fail(
                f"{path}.{which}.metricSource.spec.source",
                f"{which} counts {numerator_source}, total counts {source}: one source per SLI",
            )
        return Sli(
            source=source,
            events=events,
            good=numerator if which == "good" else None,
            bad=numerator if which == "bad" else None,
            percentile=percentile,
        )

    def _metric(
        self, reader: _Reader, value: Any, path: str, percentile_allowed: bool
    ) -> tuple[Source, Filter, Decimal | None]:
        outer = reader.mapping(value, path, ("metricSource",), ("metricSource",))
        path += ".metricSource"
        source = reader.mapping(outer["metricSource"], path, ("type", "metricSourceRef", "spec"), ("spec",))
        if "metricSourceRef" in source:
            reader.fail(f"{path}.metricSourceRef", "metricSourceRef is not supported: give type: slamon")
        if source.get("type") != METRIC_SOURCE_TYPE:
            reader.fail(
                f"{path}.type", f"metric source type {_shown(source.get('type'))} is not supported: only 'slamon'"
            )
        path += ".spec"
        keys = ["source", "endpoints", "methods", "statuses", "latencyBelowMs", "latencyAtLeastMs", "ok"]
        if percentile_allowed:
            keys.append("percentile")
        spec = reader.mapping(source["spec"], path, keys, ("source",))
        kind = spec["source"]
        if kind not in ("checks", "calls"):
            raise reader.fail(f"{path}.source", f"expected checks or calls, got {_shown(kind)}")
        endpoints = reader.strings(spec.get("endpoints", []), f"{path}.endpoints")
        methods = reader.strings(spec.get("methods", []), f"{path}.methods")
        statuses = reader.strings(_status_texts(spec.get("statuses", [])), f"{path}.statuses")
        below = spec.get("latencyBelowMs")
        at_least = spec.get("latencyAtLeastMs")
        ok = spec.get("ok")
        percentile = spec.get("percentile")
        return (
            kind,
            Filter(
                endpoints=endpoints,
                methods=methods,
                statuses=statuses,
                latency_below_ms=None if below is None else reader.integer(below, f"{path}.latencyBelowMs"),
                latency_at_least_ms=None if at_least is None else reader.integer(at_least, f"{path}.latencyAtLeastMs"),
                ok=None if ok is None else reader.boolean(ok, f"{path}.ok"),
            ),
            None if percentile is None else _tidy(reader.number(percentile, f"{path}.percentile")),
        )

    # alert policies and conditions

    def _policy_object(self, reader: _Reader, body: dict[str, Any], path: str, name: str) -> Alert:
        self._nested_metadata(reader, body)
        return self._policy_spec(reader, body.get("spec"), "spec", name)

    def _policy_spec(self, reader: _Reader, value: Any, path: str, name: str) -> Alert:
        allowed = (
            "description",
            "alertWhenNoData",
            "alertWhenResolved",
            "alertWhenBreaching",
            "conditions",
            "notificationTargets",
        )
        spec = reader.mapping(value, path, allowed, ("conditions",))
        if spec.get("description") is not None:
            reader.text(spec["description"], f"{path}.description", MAX_DESCRIPTION)
        for key, wanted, why in (
            ("alertWhenBreaching", True, "alerts fire while their condition holds"),
            ("alertWhenResolved", False, "a resolved alert closes its violation, it does not alert"),
            ("alertWhenNoData", False, "measurements without events neither break nor extend a run"),
        ):
            if key in spec and reader.boolean(spec[key], f"{path}.{key}") is not wanted:
                reader.fail(f"{path}.{key}", f"{key}: {str(not wanted).lower()} is not supported: {why}")
        targets = spec.get("notificationTargets")
        if targets not in (None, []):
            reader.fail(
                f"{path}.notificationTargets",
                "notificationTargets are not supported: notifications follow escalation.toml",
            )
        conditions = spec["conditions"]
        if not isinstance(conditions, list) or len(conditions) != 1:
            raise reader.fail(f"{path}.conditions", "exactly one condition (as OpenSLO v1 allows)")
        here = f"{path}.conditions[0]"
        item = conditions[0]
        if isinstance(item, dict) and "conditionRef" in item:
            reader.mapping(item, here, ("conditionRef",))
            cond: _Cond = self._ref(reader, "AlertCondition", item["conditionRef"], f"{here}.conditionRef")
        else:
            inline = reader.mapping(item, here, ("kind", "metadata", "spec"), ("kind", "metadata", "spec"))
            if inline["kind"] != "AlertCondition":
                raise reader.fail(f"{here}.kind", f"expected AlertCondition, got {_shown(inline['kind'])}")
            meta = reader.mapping(inline["metadata"], f"{here}.metadata", ("name", "displayName"), ("name",))
            reader.name(meta["name"], f"{here}.metadata.name")
            cond = self._condition_spec(reader, inline["spec"], f"{here}.spec")
        if cond.kind == "burnrate":
            return BurnRateAlert(name, cond.severity, cond.long_minutes, cond.short_minutes, cond.factor)
        return ThresholdAlert(name, cond.severity, cond.measure, cond.compare, cond.value, cond.minutes)

    def _condition_object(self, reader: _Reader, body: dict[str, Any], path: str, name: str) -> _Cond:
        self._nested_metadata(reader, body)
        return self._condition_spec(reader, body.get("spec"), "spec")

    def _condition_spec(self, reader: _Reader, value: Any, path: str) -> _Cond:
        spec = reader.mapping(value, path, ("description", "severity", "condition"), ("severity", "condition"))
        if spec.get("description") is not None:
            reader.text(spec["description"], f"{path}.description", MAX_DESCRIPTION)
        severity = spec["severity"]
        if severity not in SEVERITIES:
            raise reader.fail(f"{path}.severity", f"expected WARNING or CRITICAL, got {_shown(severity)}")
        path += ".condition"
        kind = spec["condition"].get("kind", "burnrate") if isinstance(spec["condition"], dict) else None
        if kind == "burnrate":
            condition = reader.mapping(
                spec["condition"],
                path,
                ("kind", "op", "threshold", "lookbackWindow", "alertAfter"),
                ("op", "threshold", "lookbackWindow", "alertAfter"),
            )
            if condition["op"] != "gte":
                raise reader.fail(
                    f"{path}.op", f"op {_shown(condition['op'])} is not supported: a burn rate alert is gte"
                )
            return _Cond(
                severity,
                "burnrate",
                factor=_tidy(reader.number(condition["threshold"], f"{path}.threshold")),
                long_minutes=reader.minutes(condition["lookbackWindow"], f"{path}.lookbackWindow"),
                short_minutes=reader.minutes(condition["alertAfter"], f"{path}.alertAfter"),
            )
        if kind == THRESHOLD_KIND:
            condition = reader.mapping(
                spec["condition"],
                path,
                ("kind", "measure", "op", "threshold", "lookbackWindow", "alertAfter"),
                ("measure", "op", "threshold", "alertAfter"),
            )
            measure = MEASURES.get(condition["measure"]) if isinstance(condition["measure"], str) else None
            if measure is None:
                raise reader.fail(
                    f"{path}.measure", f"expected {', '.join(MEASURES)}, got {_shown(condition['measure'])}"
                )
            if condition["op"] not in ("lt", "gt"):
                raise reader.fail(f"{path}.op", f"expected lt or gt, got {_shown(condition['op'])}")
            lookback = condition.get("lookbackWindow")
            if lookback is not None and reader.minutes(lookback, f"{path}.lookbackWindow") != 5:
                raise reader.fail(f"{path}.lookbackWindow", "threshold alerts measure 5-minute buckets: 5m")
            return _Cond(
                severity,
                "threshold",
                measure=measure,
                compare=condition["op"],
                value=_tidy(reader.number(condition["threshold"], f"{path}.threshold")),
                minutes=reader.minutes(condition["alertAfter"], f"{path}.alertAfter"),
            )
        raise reader.fail(
            f"{path}.kind", f"condition kind {_shown(kind)} is not supported: burnrate or {THRESHOLD_KIND}"
        )

    def _service_object(self, reader: _Reader, body: dict[str, Any], path: str, name: str) -> str:
        self._nested_metadata(reader, body)
        if body.get("spec") is not None:
            spec = reader.mapping(body["spec"], "spec", ("description",))
            if spec.get("description") is not None:
                reader.text(spec["description"], "spec.description", MAX_DESCRIPTION)
        return name


def _status_texts(value: Any) -> Any:
    """Statuses written unquoted (404, not '404') read as the strings they mean."""
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


def _tidy(value: Decimal) -> Decimal:
    """99.900 -> 99.9, 50.0 -> 50 (never 5E+1); `value` is below LARGEST."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def openslo_field(model_field: str, definition: Definition) -> str:
    """The OpenSLO path of a DefinitionError's model path (an SLO written inline by `export`)."""
    sli = "spec.indicator.spec.ratioMetric"
    which = "good" if definition.sli.good is not None else "bad"
    alert = re.match(r"^alerts\[(\d+)\](?:\.(\w+))?", model_field)
    if alert:
        index, rest = alert.group(1), alert.group(2)
        base = f"spec.alertPolicies[{index}]"
        names = {
            "name": "metadata.name",
            "minutes": "alertAfter",
            "measure": "measure",
            "value": "threshold",
            "factor": "threshold",
        }
        if rest is None:
            return f"{base}.spec.conditions[0].spec.condition"
        if rest == "name":
            return f"{base}.metadata.name"
        return f"{base}.spec.conditions[0].spec.condition.{names.get(rest, rest)}"
    keys = {"latency_below_ms": "latencyBelowMs", "latency_at_least_ms": "latencyAtLeastMs"}
    for prefix, replaced in (
        ("sli.events", f"{sli}.total.metricSource.spec"),
        ("sli.good", f"{sli}.good.metricSource.spec"),
        ("sli.bad", f"{sli}.bad.metricSource.spec"),
        ("sli.percentile", f"{sli}.{which}.metricSource.spec.percentile"),
        ("sli", sli),
        ("window", "spec.timeWindow[0].duration"),
        ("target", "spec.objectives[0].target"),
        ("name", "metadata.name"),
    ):
        if model_field == prefix or model_field.startswith(prefix + "."):
            rest = model_field[len(prefix) :]
            if prefix.startswith("window"):
                return replaced
            for snake, camel in keys.items():
                rest = rest.replace(snake, camel)
            return replaced + rest
    return model_field


def parse(sources: Sequence[tuple[str, str]], reporting_zone: str) -> list[Definition]:
    """The SLOs of (file name, YAML text) pairs, checked; OpenSloError with every problem otherwise.
    Calendar windows are in `reporting_zone` (settings.timezone)."""
    return parse_located(sources, reporting_zone)[0]


def parse_located(sources: Sequence[tuple[str, str]], reporting_zone: str) -> tuple[list[Definition], dict[str, str]]:
    """parse(), and the document of each SLO by name (for the problems `parse_for` finds)."""
    problems: list[Problem] = []
    docs = _read_documents(sources, problems)
    definitions = _Parser(docs, reporting_zone, problems).run()
    if problems:
        order = {name: index for index, (name, _) in enumerate(sources)}

        def position(problem: Problem) -> tuple[int, int]:
            filename, _, number = problem.document.rpartition("#")
            if not filename or not number.isdigit():
                return order.get(problem.document, 0), 0
            return order.get(filename, 0), int(number)

        raise OpenSloError(sorted(problems, key=position))
    return definitions, {d.name: d.label for d in docs if d.kind == "SLO"}


# -- writing ---------------------------------------------------------------------------------------


def _duration(minutes: int) -> str:
    for unit, size in (("d", 24 * 60), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def _filter_spec(source: Source, f: Filter, percentile: Decimal | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"source": source}
    for key, value in (
        ("endpoints", list(f.endpoints)),
        ("methods", list(f.methods)),
        ("statuses", list(f.statuses)),
        ("latencyBelowMs", f.latency_below_ms),
        ("latencyAtLeastMs", f.latency_at_least_ms),
        ("ok", f.ok),
        ("percentile", percentile),
    ):
        if value not in (None, []):
            spec[key] = value
    return spec


def _metric(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metricSource": {"type": METRIC_SOURCE_TYPE, "spec": spec}}


def _condition(alert: Alert) -> dict[str, Any]:
    if isinstance(alert, BurnRateAlert):
        return {
            "kind": "burnrate",
            "op": "gte",
            "threshold": alert.factor,
            "lookbackWindow": _duration(alert.long_minutes),
            "alertAfter": _duration(alert.short_minutes),
        }
    measure = {v: k for k, v in MEASURES.items()}[alert.measure]
    return {
        "kind": THRESHOLD_KIND,
        "measure": measure,
        "op": alert.compare,
        "threshold": alert.value,
        "lookbackWindow": "5m",
        "alertAfter": _duration(alert.minutes),
    }


def to_openslo(definition: Definition, reporting_zone: str) -> dict[str, Any]:
    """One self-contained OpenSLO v1 SLO object."""
    metadata: dict[str, Any] = {"name": definition.name, "displayName": definition.display_name}
    if definition.labels:
        metadata["labels"] = dict(definition.labels)
    annotations: dict[str, str] = {}
    if len(definition.services) != 1:
        annotations[SERVICES_ANNOTATION] = ",".join(definition.services) or "*"
    if definition.tier is not None:
        annotations[TIER_ANNOTATION] = definition.tier
    if annotations:
        metadata["annotations"] = annotations
    sli = definition.sli
    ratio: dict[str, Any] = {"counter": True}
    if sli.good is not None:
        ratio["good"] = _metric(_filter_spec(sli.source, sli.good, sli.percentile))
    if sli.bad is not None:
        ratio["bad"] = _metric(_filter_spec(sli.source, sli.bad))
    ratio["total"] = _metric(_filter_spec(sli.source, sli.events))
    window = definition.window
    time_window: dict[str, Any]
    if window.kind == "rolling":
        time_window = {"duration": f"{window.days}d", "isRolling": True}
    else:
        duration = {v: k for k, v in CALENDAR_UNITS.items()}[window.unit or "month"]
        time_window = {
            "duration": duration,
            "isRolling": False,
            "calendar": {"startTime": CALENDAR_START, "timeZone": reporting_zone},
        }
    spec: dict[str, Any] = {}
    if definition.description:
        spec["description"] = definition.description
    spec["service"] = definition.services[0] if definition.services else "all"
    spec["indicator"] = {"metadata": {"name": definition.name}, "spec": {"ratioMetric": ratio}}
    spec["timeWindow"] = [time_window]
    spec["budgetingMethod"] = "Occurrences"
    spec["objectives"] = [{"op": definition.op, "target": definition.target.scaleb(-2)}]
    if definition.alerts:
        spec["alertPolicies"] = [
            {
                "kind": "AlertPolicy",
                "metadata": {"name": alert.name},
                "spec": {
                    "alertWhenBreaching": True,
                    "alertWhenResolved": False,
                    "alertWhenNoData": False,
                    "conditions": [
                        {
                            "kind": "AlertCondition",
                            "metadata": {"name": alert.name},
                            "spec": {"severity": alert.severity, "condition": _condition(alert)},
                        }
                    ],
                },
            }
            for alert in definition.alerts
        ]
    return {"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata, "spec": spec}


def export(definitions: Iterable[Definition], reporting_zone: str) -> str:
    """Multi-document OpenSLO v1 YAML of `definitions`, in the order given."""
    objects = [to_openslo(d, reporting_zone) for d in definitions]
    if not objects:
        return ""
    text: str = yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return text


# -- the built-in tier definitions -----------------------------------------------------------------


def tier_definitions() -> tuple[Definition, ...]:
    """The tier SLOs (read-only, never stored: app/slo/definitions/tiers.py)."""
    return tuple(tiers.tier_definitions())


# -- storage: slo_definitions (sql/300), written through store.py (validated, audited) --------------------------------


async def unknown_services(conn: asyncpg.Connection, definitions: Sequence[Definition]) -> dict[str, list[str]]:
    """The services each definition names that are not active services, by definition name."""
    active = {r["id"] for r in await conn.fetch("SELECT id FROM services WHERE is_active")}
    found = {d.name: [s for s in d.services if s not in active] for d in definitions}
    return {name: missing for name, missing in found.items() if missing}


def services_field(definition: Definition) -> str:
    """Where an OpenSLO SLO names its services (docs/slos.md#services)."""
    return "spec.service" if len(definition.services) == 1 else f"metadata.annotations.{SERVICES_ANNOTATION}"


async def parse_for(
    conn: asyncpg.Connection, sources: Sequence[tuple[str, str]], reporting_zone: str
) -> list[Definition]:
    """parse(), plus the checks that need the database: every service named is an active one, no
    SLO takes a tier definition's name. OpenSloError with every problem."""
    definitions, located = parse_located(sources, reporting_zone)
    tiers = {d.name for d in tier_definitions()}
    unknown = await unknown_services(conn, definitions)
    problems = [
        Problem(
            located[d.name], d.name, services_field(d), f"unknown or archived service {', '.join(map(repr, missing))}"
        )
        for d in definitions
        if (missing := unknown.get(d.name))
    ]
    problems += [
        Problem(located[d.name], d.name, "metadata.name", f"{d.name!r} is a built-in tier definition: read-only")
        for d in definitions
        if d.name in tiers or d.tier is not None
    ]
    if problems:
        raise OpenSloError(problems)
    return definitions


Outcome = Literal["created", "updated", "unchanged", "deleted"]


@dataclass(frozen=True)
class Actor:
    """Who writes: a signed-in user or the CLI (`cli:<user>`); an app.audit.service.Actor."""

    name: str
    user_id: str | None = None
    ip: str = ""

    @property
    def username(self) -> str:
        return self.name


async def load(conn: asyncpg.Connection, names: Sequence[str] | None = None) -> list[Definition]:
    """The stored definitions (not deleted), by name; only `names` when given."""
    rows = await conn.fetch(
        "SELECT body FROM slo_definitions WHERE deleted_at IS NULL AND ($1::text[] IS NULL OR name = ANY($1))"
        " ORDER BY name",
        None if names is None else list(names),
    )
    return [Definition.from_json(_json(row["body"])) for row in rows]


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


async def apply(
    conn: asyncpg.Connection,
    definitions: Sequence[Definition],
    source: Literal["api", "openslo", "example"],
    actor: Actor,
    *,
    prune: bool = False,
    dry_run: bool = False,
) -> dict[str, Outcome]:
    """Upsert `definitions` in one transaction (and with `prune`, delete the stored ones not among
    them); what happened to each name. With `dry_run` the transaction is rolled back."""
    tiers = {d.name for d in tier_definitions()}
    outcomes: dict[str, Outcome] = {}
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute("LOCK TABLE slo_definitions IN SHARE ROW EXCLUSIVE MODE")
        rows = {r["name"]: r for r in await conn.fetch("SELECT name, body, deleted_at FROM slo_definitions FOR UPDATE")}
        for definition in definitions:
            if definition.name in tiers or definition.tier is not None:
                raise TierDefinition(definition.name)
            row = rows.get(definition.name)
            if row is not None and row["deleted_at"] is None and Definition.from_json(_json(row["body"])) == definition:
                outcome: Outcome = "unchanged"
            else:
                created = await store.put(conn, definition, source, actor)
                outcome = "created" if created else "updated"
            outcomes[definition.name] = outcome
        if prune:
            keep = {d.name for d in definitions}
            for name, row in sorted(rows.items()):
                if name not in keep and row["deleted_at"] is None:
                    await store.delete(conn, name, actor)
                    outcomes[name] = "deleted"
    except BaseException:
        await transaction.rollback()
        raise
    if dry_run:
        await transaction.rollback()
    else:
        await transaction.commit()
    return outcomes


class TierDefinition(Exception):
    """A write to a built-in tier definition (read-only)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is a built-in tier definition: read-only")
        self.name = name


async def delete(conn: asyncpg.Connection, name: str, actor: Actor) -> bool:
    """Mark `name` deleted (its row stays for its violations); False when there was none."""
    if name in {d.name for d in tier_definitions()}:
        raise TierDefinition(name)
    return await store.delete(conn, name, actor)
