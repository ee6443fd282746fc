"""Assertions are data, validated by the code that evaluates them."""

import pytest

from app.services.models import CheckConfig
from app.services.service import CatalogError, load_catalog
from app.services.conditions import ConditionError, JsonPath, compile_check, values_equal
from prober.models import Target, TargetError

DOC = {"status": "ok", "data": {"items": [{"state": "ready"}, {"state": "busy"}]}, "count": 3, "up": True}


@pytest.mark.parametrize(
    "path, expected",
    [
        ("status", "ok"),
        ("data.items.0.state", "ready"),
        ("data.items.1.state", "busy"),
        ("count", 3),
        ("up", True),
        ("$.status", "ok"),
    ],
)
def test_json_path_lookup(path, expected):
    assert JsonPath.parse(path).lookup(DOC) == expected


@pytest.mark.parametrize("path", ["", "  ", "data..items", ".status", "status.", "data[0]", "a b", "x." * 40 + "x"])
def test_invalid_json_paths_are_refused(path):
    with pytest.raises(ConditionError, match="json_path"):
        JsonPath.parse(path)


@pytest.mark.parametrize(
    "actual, expected, equal",
    [
        ("ok", "ok", True),
        (3, 3, True),
        (3, "3", True),
        (True, True, True),
        (True, "true", True),
        (1, True, False),
        (True, 1, False),
        ("3", 3, False),
        ({"a": 1}, "x", False),
        (None, "null", True),
    ],
)
def test_values_equal(actual, expected, equal):
    assert values_equal(actual, expected) is equal


def test_invalid_json_path_is_refused_when_the_catalog_loads(tmp_path):
    catalog = tmp_path / "services.toml"
    catalog.write_text(
        '[[services]]\nid = "face-compare"\nname = "Face Compare"\n'
        'url = "http://example.org/"\n[services.check]\njson_path = "a..b"\n'
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(catalog)
    message = str(caught.value)
    assert str(catalog) in message and "(face-compare)" in message and "check.json_path" in message
    assert "invalid segment" in message


@pytest.mark.parametrize(
    "check, field",
    [
        ({"json_value": "ok"}, "check.json_value"),
        ({"expected_status": [200, 999]}, "check.expected_status"),
        ({"keyword": ""}, "check.keyword"),
    ],
)
def test_compile_names_service_and_field(check, field):
    with pytest.raises(ConditionError) as caught:
        compile_check(CheckConfig.model_validate(check), label="service face-compare")
    assert str(caught.value).startswith(f"service face-compare: {field}")


def _row(**over):
    row = dict(
        id="face-compare",
        kind="http",
        endpoint_url="http://example.org/",
        interval_s=60,
        timeout_s=30,
        latency_target_ms=7000,
        allow_private=False,
        check_config={},
    )
    row.update(over)
    return row


@pytest.mark.parametrize(
    "over, words",
    [
        (dict(kind="smtp"), "kind: unknown check kind 'smtp'"),
        (dict(check_config={"json_path": "a..b"}), "check.json_path"),
        (dict(endpoint_url=""), "url:"),
        (dict(check_config='{"method": "BREW"}'), "check.method:"),
    ],
)
def test_target_from_a_bad_row_is_refused(over, words):
    with pytest.raises(TargetError) as caught:
        Target.from_row(_row(**over))
    assert "service face-compare" in str(caught.value) and words in str(caught.value)


def test_target_from_row():
    target = Target.from_row(_row(check_config='{"json_path": "status", "json_value": "ok"}'))
    assert target.check.json_path == "status" and target.interval_s == 60
