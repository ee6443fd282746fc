"""The API's contract, shared by every router (docs/api.md#the-contract):

- `ApiModel`, the base of answers: camelCase on the wire (snake_case attribute names in Python);
- `ErrorBody`, the one error shape (`app.errors`): `{"error", "message", "details"?}`;
- `errors(404, 409, …)`, the `responses=` of a route for the errors only that route can answer;
- `document_errors(app)`, run once the routers are included: adds to every JSON route the errors its
  dependencies can answer (401 without a token, 403 for a permission, 422 for parameters, 413 for a
  body, 503 when the database or the load shedder refuses) and replaces FastAPI's default 422 schema,
  which is not what the API sends.

A new route gets the shared errors by itself; it declares a `response_model` and, with `errors()`,
whatever its own code raises. tests/app/test_api_contract.py fails when either is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any

from fastapi import FastAPI, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.utils import create_model_field
from pydantic import (
    AliasChoices,
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.formatting import pagination, utc_iso

# A UTC instant the service already wrote with app.formatting.utc_iso ("2026-12-01T10:00:00Z"): kept
# a string, so that the answer is byte for byte what the service formatted.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
# An instant straight from a database row, written as app.formatting.utc_iso writes it ("…Z"): a
# datetime for the code that reads the record, the service's text on the wire.
UtcInstant = Annotated[
    datetime,
    PlainSerializer(utc_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# An instant straight from a database row, written as FastAPI's encoder always wrote it (isoformat:
# "+00:00", not pydantic's "Z"), so that answers which carried such fields keep their bytes.
Instant = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _number(value: Decimal | int | float) -> int | float:
    """As fastapi.encoders.decimal_encoder writes a Decimal: an integer when it has no fractional
    digits, else a float; ints and floats unchanged (pydantic's float would turn 5 into 5.0)."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    return value


# A figure: exact Decimals from the SLA maths, ints and floats, each keeping its JSON spelling.
Number = Annotated[
    Decimal | int | float, PlainSerializer(_number, when_used="json"), WithJsonSchema({"type": "number"})
]
# A JSON object whose keys the route does not fix (free-form details, a form's draft data).
JsonObject = dict[str, Any]


class ApiModel(BaseModel):
    """An answer: fields are snake_case in Python and camelCase on the wire; either spelling is
    accepted when a dict is validated into one (services hand over dicts keyed either way)."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


def _legacy_properties(schema: dict[str, Any], model: type[BaseModel]) -> None:
    properties = schema.get("properties", {})
    for name, field in model.model_fields.items():
        alias = field.serialization_alias or field.alias
        if alias and alias != name and alias in properties:
            properties[name] = {
                **properties[alias],
                "deprecated": True,
                "description": f"deprecated: the old spelling of {alias}, for one release (docs/api.md#casing)",
            }
            if alias in schema.get("required", ()):
                schema["required"].append(name)


class WithLegacyKeys(ApiModel):
    """An answer that moved from snake_case to camelCase: for one release it carries each renamed key
    twice, the camelCase one and the old snake_case one (marked deprecated in the schema); the routes
    add a `Deprecation` header (`deprecated_keys`). docs/api.md#casing."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # not json_schema_extra, which a subclass's own (its examples) would replace
        schema = handler(core_schema)
        _legacy_properties(handler.resolve_ref_schema(schema), cls)
        return schema

    @model_serializer(mode="wrap")
    # Not annotated: an annotated return type would replace the model's own schema in the OpenAPI.
    def _with_legacy_keys(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data: dict[str, Any] = handler(self)
        for name, field in type(self).model_fields.items():
            alias = field.serialization_alias or field.alias
            if alias and alias != name and alias in data:
                data[name] = data[alias]
        return data


def _either_spelling(name: str) -> AliasChoices:
    return AliasChoices(to_camel(name), name)


class LegacyInput(BaseModel):
    """A request body that moved to camelCase: each field is accepted in camelCase (what the schema
    shows) or, for one release, in its old snake_case spelling; sending both is an unknown field."""

    model_config = ConfigDict(extra="forbid", alias_generator=AliasGenerator(validation_alias=_either_spelling))


# RFC 9745: the date from which the snake_case keys of /api/auth and /api/users are deprecated.
LEGACY_KEYS_DEPRECATED_AT = datetime(2026, 12, 3, tzinfo=timezone.utc)


def deprecated_keys(response: Response) -> None:
    """Route dependency of the routes whose answers still carry the old snake_case keys."""
    response.headers["Deprecation"] = f"@{int(LEGACY_KEYS_DEPRECATED_AT.timestamp())}"


class Success(BaseModel):
    """`{"success": true}` (a draft delete answers false when there was none)."""

    success: bool


class Deleted(Success):
    """A delete that says what happened, in the operators' language."""

    message: str


class Pagination(BaseModel):
    """The `pagination` of every paged list (app.formatting.pagination)."""

    page: int
    limit: int
    total: int
    totalPages: int
    hasNext: bool

    @classmethod
    def of(cls, page: int, limit: int, total: int) -> Pagination:
        """Page `page` of `total` items, `limit` a page."""
        return cls.model_validate(pagination(page, limit, total))


class ErrorDetail(BaseModel):
    """Where a problem is: `in` (query, path, body, header, or null), the field (dotted for nested
    fields) and what is wrong with it; ingest rows name the `row` (0-based) instead of `in`."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)
    in_: str | None = Field(None, alias="in")
    row: int | None = Field(None, description="ingest: the row of the request, from 0")
    field: str | None
    message: str


class ErrorBody(BaseModel):
    """Every failure a client can cause or meet (app.errors)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"error": "not_found", "message": "unknown service 'nope'"}]}
    )
    error: str = Field(description="a stable code: not_found, validation_error, conflict, forbidden, …")
    message: str = Field(description="for people; may change between releases")
    details: list[ErrorDetail] | None = Field(None, description="what was wrong, field by field")


# What each status means in this API, and the example it shows. (FastAPI drops null values from the
# examples of the OpenAPI document: examples show non-null values only.)
ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "The body cannot be decoded (a protocol's own format, e.g. OTLP)",
        {"error": "bad_request", "message": "body is not an OTLP ExportTraceServiceRequest"},
    ),
    401: (
        "No valid access token (missing, expired, revoked, idle for 2 h)",
        {"error": "unauthorized", "message": "missing access token: send 'Authorization: Bearer <token>'"},
    ),
    403: (
        "The signed-in role may not do this",
        {"error": "forbidden", "message": "role 'viewer' may not incidents:create"},
    ),
    404: ("No such resource", {"error": "not_found", "message": "unknown service 'nope'"}),
    409: ("Conflicts with the resource's current state", {"error": "conflict", "message": "the id is taken"}),
    410: (
        "The link was used, replaced by a newer one, has expired or is not valid",
        {"error": "gone", "message": "this link was already used or replaced by a newer one"},
    ),
    413: ("Request body over the limit", {"error": "payload_too_large", "message": "request body over 1048576 bytes"}),
    415: (
        "The body's Content-Type or Content-Encoding is not one the route takes",
        {"error": "unsupported_media_type", "message": "Content-Type 'text/plain': send application/json"},
    ),
    422: (
        "Invalid input; `details` names each parameter or field",
        {
            "error": "validation_error",
            "message": "invalid query.month",
            "details": [{"in": "query", "field": "month", "message": "Input should be less than or equal to 12"}],
        },
    ),
    428: (
        "The write must say which version it saw (`version` or If-Match)",
        {"error": "precondition_required", "message": "send the version you saw: 'version' or If-Match"},
    ),
    429: (
        "Too many failed attempts; retry after `Retry-After` seconds",
        {"error": "too_many_attempts", "message": "too many failed logins; retry in 60 s"},
    ),
    503: (
        "Cannot serve now (database unreachable, server busy); retry after `Retry-After` seconds",
        {"error": "service_unavailable", "message": "database unavailable, retry shortly"},
    ),
}


def errors(*codes: int, models: dict[int, type[BaseModel]] | None = None, **examples: Any) -> dict[int | str, Any]:
    """`responses=` entries for these statuses in the error shape. `models` swaps the body of one
    status for a richer one (409 with the current incident); `e404={...}` replaces an example."""
    models = models or {}
    responses: dict[int | str, Any] = {}
    for code in codes:
        description, example = ERRORS[code]
        example = examples.get(f"e{code}", example)
        responses[code] = {
            "model": models.get(code, ErrorBody),
            "description": description,
            "content": {"application/json": {"example": example}},
        }
    return responses


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _has_parameters(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params or dependant.body_params:
        return True
    return any(_has_parameters(sub) for sub in dependant.dependencies)


def shared_errors(route: Any) -> set[int]:
    """The statuses a route (an APIRoute or FastAPI's RouteContext of one, with the dependencies of
    the routers it is included through) can answer because of what it depends on (app.auth.deps,
    app.deps, the middleware in app.main), whatever its own code does."""
    from app import deps
    from app.auth import passwords
    from app.auth.deps import current_user

    calls = list(_calls(route.dependant))
    codes = set()
    # app.load sheds load (503) on every route but /api/health*; those answer 503 for the database
    if not route.path.startswith("/api/health") or deps.connection in calls or passwords.slot in calls:
        codes.add(503)
    if current_user in calls:
        codes.add(401)
    if any(getattr(call, "__qualname__", "").startswith("require.") for call in calls):
        codes.add(403)
    if _has_parameters(route.dependant):
        codes.add(422)
    if route.dependant.body_params:
        codes.add(413)  # app.main.BodySizeLimit; the ingest routes have their own, larger limit
    return codes


def document_errors(app: FastAPI) -> None:
    """Add to every route in the schema the shared errors it can answer, in our shape; what a route
    declares itself (its description and example) is kept. Idempotent."""
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for code, entry in errors(*sorted(shared_errors(route))).items():
            if code in route.responses:
                continue
            if _is_page(route):
                # FastAPI would file a model's schema under text/html: the schema is given as a reference
                entry = {
                    **entry,
                    "content": {"application/json": {**entry["content"]["application/json"], "schema": ERROR_REF}},
                }
                del entry["model"]
                route.responses[code] = entry
                continue
            route.responses[code] = entry
            # what APIRoute does for the responses it is given: the model goes in the schema
            route.response_fields[code] = create_model_field(
                name=f"Response_{code}_{route.unique_id}", type_=entry["model"], mode="serialization"
            )


ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _is_page(route: Any) -> bool:
    """An HTML page, whose errors (bad parameters, load shed) are JSON like the API's."""
    media_type = getattr(route.response_class, "media_type", None)
    return isinstance(media_type, str) and media_type.startswith("text/html")


def install(app: FastAPI) -> None:
    """Document the shared errors whenever the OpenAPI document is (re)built, after every router
    (and every router another branch adds later) is included."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document_errors(app)
        return build()

    app.openapi = openapi  # type: ignore[method-assign]
