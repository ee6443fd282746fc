"""The OpenAPI document is the API's contract (docs/api.md#the-contract): every JSON route declares
its answer's schema and the errors it can answer, in the one error shape of app/errors.py; the main
routes carry examples, and every example validates against its schema. Walks `app.openapi()`, so a
route added without these fails here."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest

from app.config import Settings
from app.main import create_app

METHODS = {"get", "put", "post", "delete", "patch"}
# Routes that answer nothing but 200: liveness is answered by the process itself, before the load
# shedder, the database or any input (app/health/views.py).
ONLY_SUCCESS = {("get", "/api/health/live")}
# The main routes, which must show an example of their answer.
WITH_EXAMPLES = {
    ("get", "/api/system-status"),
    ("get", "/api/services"),
    ("get", "/api/uptime/{service_id}"),
    ("get", "/api/sla/availability/{service_id}"),
    ("get", "/api/sla/response-times/{service_id}"),
    ("get", "/api/sla/usage/{service_id}"),
    ("get", "/api/sla/incidents/stats"),
    ("get", "/api/slo/{service_id}"),
    ("get", "/api/incidents"),
    ("get", "/api/incidents/past"),
    ("get", "/api/incidents/{incident_id}"),
    ("post", "/api/incidents"),
    ("put", "/api/incidents/{incident_id}"),
    ("post", "/api/incidents/{incident_id}/updates"),
    ("post", "/api/ingest/checks"),
    ("post", "/api/ingest/api-calls"),
    ("get", "/api/sla/reports/{service_id}/{month}/revisions"),
    ("post", "/api/sla/reports/{service_id}/{month}/revisions"),
    ("get", "/api/maintenance/{window_id}"),
    ("post", "/api/auth/login"),
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> dict[str, Any]:
    settings = Settings(
        database_url="postgresql://unused@127.0.0.1:1/unused",
        secret_key="contract-test",
        data_dir=tmp_path_factory.mktemp("contract"),
    )
    return create_app(settings).openapi()


def operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def validator(spec: dict[str, Any], schema: dict[str, Any]):
    """A JSON Schema 2020-12 validator (what OpenAPI 3.1 schemas are) that resolves #/components/…"""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": spec["components"], **schema}
    return jsonschema_rs.validator_for(root)


def json_successes(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        code: response["content"]["application/json"]
        for code, response in operation["responses"].items()
        if code.startswith("2") and "application/json" in response.get("content", {})
    }


def test_every_json_route_declares_the_schema_of_its_answer(spec):
    missing = [
        f"{method.upper()} {path} ({code})"
        for method, path, operation in operations(spec)
        for code, content in json_successes(operation).items()
        if not content.get("schema")
    ]
    assert not missing, f"JSON answers without a schema (declare response_model): {missing}"


def is_error_shape(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    body = resolve(spec, schema)
    properties = body.get("properties", {})
    return (
        {"error", "message"} <= set(body.get("required", ()))
        and properties.get("error", {}).get("type") == "string"
        and properties.get("message", {}).get("type") == "string"
        and "details" in properties
    )


def test_every_route_documents_its_errors_in_the_error_shape(spec):
    problems = []
    for method, path, operation in operations(spec):
        errors = {code: r for code, r in operation["responses"].items() if not code.startswith("2")}
        if not errors and (method, path) not in ONLY_SUCCESS:
            problems.append(f"{method.upper()} {path}: no error documented")
        for code, response in errors.items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema is None or not is_error_shape(spec, schema):
                problems.append(f"{method.upper()} {path} {code}: not the error shape of app/errors.py")
    assert not problems, "\n".join(problems)


def test_fastapis_default_validation_error_is_not_documented(spec):
    """The API answers 422 as {"error": "validation_error", "message", "details"}, never FastAPI's."""
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas


def test_parameters_and_bodies_document_a_422(spec):
    missing = [
        f"{method.upper()} {path}"
        for method, path, operation in operations(spec)
        if (operation.get("parameters") or operation.get("requestBody")) and "422" not in operation["responses"]
    ]
    assert not missing, f"routes that validate input without a documented 422: {missing}"


def examples_of(spec: dict[str, Any]):
    """Every example in the document with the schema it illustrates: schemas' own `examples`, and the
    `example`/`examples` of each response and request body."""
    for name, schema in spec["components"]["schemas"].items():
        for index, example in enumerate(schema.get("examples", [])):
            yield f"components.schemas.{name}.examples[{index}]", {"$ref": f"#/components/schemas/{name}"}, example
    for method, path, operation in operations(spec):
        bodies = [(code, r.get("content", {})) for code, r in operation["responses"].items()]
        bodies.append(("requestBody", operation.get("requestBody", {}).get("content", {})))
        for code, content in bodies:
            for media, entry in content.items():
                if "schema" not in entry:
                    continue
                where = f"{method.upper()} {path} {code} {media}"
                if "example" in entry:
                    yield where, entry["schema"], entry["example"]
                for key, example in entry.get("examples", {}).items():
                    yield f"{where} examples.{key}", entry["schema"], example.get("value")


def test_every_example_validates_against_its_schema(spec):
    checked, invalid = 0, []
    for where, schema, example in examples_of(spec):
        checked += 1
        errors = [e.message for e in validator(spec, schema).iter_errors(example)]
        if errors:
            invalid.append(f"{where}: {errors[:3]}")
    assert checked > len(WITH_EXAMPLES), checked
    assert not invalid, "\n".join(invalid)


def test_an_example_that_does_not_match_is_caught(spec):
    """The check above can fail: an availability example with a string where a count goes does."""
    example = json.loads(json.dumps(resolve(spec, {"$ref": "#/components/schemas/AvailabilityReport"})["examples"][0]))
    example["metrics"]["totalChecks"] = "many"
    assert not validator(spec, {"$ref": "#/components/schemas/AvailabilityReport"}).is_valid(example)


def has_example(spec: dict[str, Any], content: dict[str, Any]) -> bool:
    return "example" in content or "examples" in content or "examples" in resolve(spec, content.get("schema", {}))


@pytest.mark.parametrize("method,path", sorted(WITH_EXAMPLES))
def test_the_main_routes_show_examples(spec, method, path):
    operation = spec["paths"][path][method]
    successes = json_successes(operation)
    assert successes and all(has_example(spec, c) for c in successes.values()), "no example of the answer"
    errors = [r for code, r in operation["responses"].items() if not code.startswith("2")]
    assert all(has_example(spec, r["content"]["application/json"]) for r in errors), "an error without example"


async def test_system_status_as_sent_matches_its_schema(make_client, spec):
    """/api/system-status is sent as built (no response-model pass, for speed): its answer is checked
    against the schema here instead."""
    client = await make_client()
    response = await client.get("/api/system-status")
    assert response.status_code == 200
    schema = json_successes(spec["paths"]["/api/system-status"]["get"])["200"]["schema"]
    errors = [e.message for e in validator(spec, schema).iter_errors(response.json())]
    assert not errors, errors
