"""The admin API of SLO definitions (docs/slos.md#admin-api): replace or delete one definition as JSON,
apply OpenSLO v1 YAML, export it. Writes need `slos:write` (admins) and are audited; the export takes
any signed-in user. The tier definitions are built in: writing or deleting one answers 409."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from app import deps
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.config import Settings
from app.contract import Deleted, ErrorBody, ErrorDetail, errors
from app.errors import ApiError, not_found
from app.slo.definitions import openslo
from app.slo.definitions.model import NAME, Definition, DefinitionError

router = APIRouter(tags=["slo-definitions"], dependencies=[Depends(current_user)])
PERMISSION = "slos:write"
NamePath = Path(min_length=1, max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
MAX_NAMES = 100

# -- the Definition JSON of model.py (Definition.to_json), validated field by field -----------------

Text = Annotated[str, Field(max_length=500)]
Severity = Literal["WARNING", "CRITICAL"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterJson(_Strict):
    endpoints: list[Text] = Field(default_factory=list, max_length=50)
    methods: list[Text] = Field(default_factory=list, max_length=10)
    statuses: list[Text] = Field(default_factory=list, max_length=20)
    latencyBelowMs: int | None = Field(None, ge=-(2**31), le=2**31)
    latencyAtLeastMs: int | None = Field(None, ge=-(2**31), le=2**31)
    ok: bool | None = None


class SliJson(_Strict):
    source: Literal["checks", "calls"]
    events: FilterJson = Field(default_factory=FilterJson)
    good: FilterJson | None = None
    bad: FilterJson | None = None
    percentile: Decimal | None = Field(None, max_digits=12)


class WindowJson(_Strict):
    kind: Literal["rolling", "calendar"]
    days: int | None = Field(None, ge=-1000, le=1000)
    unit: Literal["week", "month", "quarter"] | None = None


class BurnRateJson(_Strict):
    kind: Literal["burn_rate"]
    name: Annotated[str, Field(max_length=63)]
    severity: Severity
    longMinutes: int = Field(ge=-(2**31), le=2**31)
    shortMinutes: int = Field(ge=-(2**31), le=2**31)
    factor: Decimal = Field(max_digits=12)


class ThresholdJson(_Strict):
    kind: Literal["threshold"]
    name: Annotated[str, Field(max_length=63)]
    severity: Severity
    measure: Literal["good_percent", "bad_percent", "percentile_ms"]
    compare: Literal["lt", "gt"]
    value: Decimal = Field(max_digits=12)
    minutes: int = Field(ge=-(2**31), le=2**31)


class DefinitionJson(_Strict):
    """A definition as `Definition.to_json` writes it (docs/slos.md#the-definition-json). `name`,
    when given, is the path's; `tier` is set on the built-in tier definitions only."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "checkout-availability",
                    "displayName": "Checkout availability",
                    "description": "",
                    "services": ["id-recognition"],
                    "sli": {"source": "checks", "good": {"ok": True}},
                    "window": {"kind": "rolling", "days": 28},
                    "target": "99.9",
                    "op": "gte",
                    "alerts": [
                        {
                            "kind": "burn_rate",
                            "name": "fast-burn",
                            "severity": "CRITICAL",
                            "longMinutes": 60,
                            "shortMinutes": 5,
                            "factor": "14.4",
                        }
                    ],
                    "labels": {},
                }
            ]
        },
    )
    name: str | None = Field(None, max_length=63)
    displayName: str | None = Field(None, max_length=255)
    description: str = Field("", max_length=openslo.MAX_DESCRIPTION)
    services: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")]] = Field(
        default_factory=list, max_length=100
    )
    sli: SliJson
    window: WindowJson
    target: Decimal = Field(max_digits=12)
    op: Literal["gte", "gt"] = "gte"
    alerts: list[Annotated[BurnRateJson | ThresholdJson, Field(discriminator="kind")]] = Field(
        default_factory=list, max_length=20
    )
    # as OpenSLO's metadata.labels are read (openslo.py): what is stored here exports and reads back
    labels: dict[Annotated[str, Field(max_length=63)], Annotated[str, Field(max_length=255)]] = Field(
        default_factory=dict, max_length=50
    )
    tier: str | None = Field(None, max_length=50)


Outcome = Literal["created", "updated", "unchanged", "deleted"]


class DefinitionSaved(BaseModel):
    definition: DefinitionJson
    outcome: Outcome = Field(description="created, updated, or unchanged (the same definition was stored)")


class AppliedOne(BaseModel):
    name: str
    outcome: Outcome


class Applied(BaseModel):
    """What an apply did (or, with dryRun, would do) to each definition."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"dryRun": False, "definitions": [{"name": "slo-001-platform-availability", "outcome": "created"}]}
            ]
        }
    )
    dryRun: bool
    definitions: list[AppliedOne]


class ProblemDetail(ErrorDetail):
    """One problem of an OpenSLO file: its document ("request#3": the object's number, from 1) and SLO."""

    document: str
    slo: str | None


class ApplyErrorBody(ErrorBody):
    details: list[ProblemDetail] | None = None  # type: ignore[assignment]


def _camel_path(field: str) -> str:
    return ".".join(re.sub(r"^[a-z_]+", lambda m: to_camel(m.group(0)), part) for part in field.split("."))


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422, "validation_error", f"invalid body.{field}", [{"in": "body", "field": field, "message": message}]
    )


def _problems(exc: openslo.OpenSloError) -> ApiError:
    count = len(exc.problems)
    return ApiError(
        422,
        "validation_error",
        f"{count} problem{'s' if count != 1 else ''} in the OpenSLO document: nothing was applied",
        [{"in": "body", **p.to_json()} for p in exc.problems],
    )


def _unstorable(value: Any, path: str) -> str | None:
    """The path of the first string (key or value) PostgreSQL cannot store, if any."""
    if isinstance(value, str):
        return None if openslo.storable(value) else path
    items: list[tuple[Any, Any]] = (
        list(value.items()) if isinstance(value, dict) else list(enumerate(value)) if isinstance(value, list) else []
    )
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and not openslo.storable(key):
            return here
        found = _unstorable(item, here)
        if found is not None:
            return found
    return None


def _actor(principal: Principal) -> openslo.Actor:
    return openslo.Actor(principal.username, principal.user_id, principal.ip)


def _tiers() -> set[str]:
    return {d.name for d in openslo.tier_definitions()}


def _read_only(name: str) -> ApiError:
    return ApiError(409, "conflict", f"{name!r} is a built-in tier definition: read-only")


@router.put(
    "/api/slo-definitions/{name}",
    response_model=DefinitionSaved,
    responses=errors(
        409,
        e409={"error": "conflict", "message": "'enterprise-availability' is a built-in tier definition: read-only"},
    ),
    summary="Create or replace an SLO definition (admin); the body is the definition JSON",
)
async def put_definition(
    body: DefinitionJson,
    name: str = NamePath,
    actor: Principal = Depends(require(PERMISSION)),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> DefinitionSaved:
    if body.name is not None and body.name != name:
        raise _invalid("name", f"{body.name!r} is not the path's name {name!r}")
    if body.tier is not None or name in _tiers():
        raise _read_only(name)
    data = body.model_dump(mode="json")
    data["name"] = name
    unstorable = _unstorable(data, "")
    if unstorable is not None:
        raise _invalid(unstorable, "text must be Unicode without NUL (U+0000) or lone surrogates")
    try:
        definition = Definition.from_json(data).check()
    except DefinitionError as exc:
        raise _invalid(_camel_path(exc.field), exc.message.replace("latency_below_ms", "latencyBelowMs")) from None
    missing = (await openslo.unknown_services(conn, [definition])).get(name)
    if missing:
        index = definition.services.index(missing[0])
        raise _invalid(f"services.{index}", f"unknown or archived service {missing[0]!r}")
    try:
        outcomes = await openslo.apply(conn, [definition], "api", _actor(actor))
    except openslo.TierDefinition as exc:
        raise _read_only(exc.name) from None
    return DefinitionSaved(definition=DefinitionJson.model_validate(definition.to_json()), outcome=outcomes[name])


@router.delete(
    "/api/slo-definitions/{name}",
    response_model=Deleted,
    responses=errors(404, 409),
    summary="Delete an SLO definition (admin); its violations keep naming it",
)
async def delete_definition(
    name: str = NamePath,
    actor: Principal = Depends(require(PERMISSION)),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Deleted:
    try:
        deleted = await openslo.delete(conn, name, _actor(actor))
    except openslo.TierDefinition:
        raise _read_only(name) from None
    if not deleted:
        raise not_found("SLO definition", name)
    return Deleted(success=True, message=f"SLO definition {name!r} deleted")


APPLY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "OpenSLO v1 YAML: SLO, SLI, AlertPolicy, AlertCondition and Service objects (docs/slos.md)",
        "content": {media: {"schema": {"type": "string"}} for media in YAML_TYPES[:1]},
    }
}


@router.post(
    "/api/slo-definitions:apply",
    response_model=Applied,
    openapi_extra=APPLY_BODY,
    responses=errors(
        409,
        413,
        415,
        422,
        models={422: ApplyErrorBody},
        e415={"error": "unsupported_media_type", "message": "Content-Type 'text/plain': send application/yaml"},
        e422={
            "error": "validation_error",
            "message": "1 problem in the OpenSLO document: nothing was applied",
            "details": [
                {
                    "in": "body",
                    "document": "request#2",
                    "slo": "checkout-availability",
                    "field": "spec.budgetingMethod",
                    "message": "budgetingMethod 'Timeslices' is not supported: only Occurrences",
                }
            ],
        },
    ),
    summary="Apply OpenSLO v1 YAML (admin): every SLO in one transaction, or nothing when any is wrong",
)
async def apply_openslo(
    request: Request,
    dry_run: bool = Query(False, alias="dryRun", description="check and report, store nothing"),
    prune: bool = Query(False, description="delete the stored definitions the document does not hold"),
    actor: Principal = Depends(require(PERMISSION)),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> Applied:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in YAML_TYPES:
        raise ApiError(415, "unsupported_media_type", f"Content-Type {media!r}: send application/yaml")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "validation_error", "the body is not UTF-8 text") from None
    if "\x00" in text:
        raise ApiError(422, "validation_error", "text must not contain NUL (U+0000) characters")
    try:
        definitions = await openslo.parse_for(conn, [("request", text)], settings.timezone)
        outcomes = await openslo.apply(conn, definitions, "openslo", _actor(actor), prune=prune, dry_run=dry_run)
    except openslo.OpenSloError as exc:
        raise _problems(exc) from None
    except openslo.TierDefinition as exc:
        raise _read_only(exc.name) from None
    return Applied(dryRun=dry_run, definitions=[AppliedOne(name=n, outcome=o) for n, o in outcomes.items()])


@router.get(
    "/api/slo-definitions.yaml",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {"schema": {"type": "string"}}}}, **errors(404)},
    summary="The stored SLO definitions as OpenSLO v1 YAML (?name= some of them; ?withTiers=true the tiers')",
)
async def export_openslo(
    name: list[str] = Query([], max_length=MAX_NAMES),
    with_tiers: bool = Query(False, alias="withTiers"),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> Response:
    definitions = await export_set(conn, name, with_tiers)
    return Response(openslo.export(definitions, settings.timezone), media_type="application/yaml")


async def export_set(conn: asyncpg.Connection, names: list[str], with_tiers: bool) -> list[Definition]:
    """The definitions an export holds: the stored ones and, with `with_tiers`, the tier definitions
    first; only `names` when given (a tier's name picks that tier). ApiError 404 for a name that is
    neither."""
    tiers = list(openslo.tier_definitions())
    # a name that cannot be one (NUL, too long) is simply not found
    stored = await openslo.load(conn, [n for n in names if NAME.match(n)] if names else None)
    if not names:
        return (tiers if with_tiers else []) + stored
    chosen = [d for d in tiers if d.name in names]
    found = {d.name for d in stored} | {d.name for d in chosen}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise not_found("SLO definition", unknown[0])
    return chosen + stored
