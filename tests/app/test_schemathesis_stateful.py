"""Stateful schemathesis run, signed in as an admin, against a live API process: call sequences that
follow the OpenAPI links the API declares (an incident created, then read, edited at the version it
answered, updated, commented, drafted, deleted; users, maintenance windows, subscriptions, report
revisions, services and their figures). No call may answer 5xx, and every declared link must have
led to a successful call on the resource it names at least once, so the run cannot pass vacuously.
Each family of linked operations (a create and what its links lead to) runs as a state machine of
its own, so that every link gets its share of the steps, and each deep link (e.g. PUT draft -> DELETE draft)
also one of its own chain from the create. Bounded: SCENARIOS × STEPS calls a machine.

Deterministic: derandomized, no example database, and the server's answers depend only on the
sequence itself (created names get a serial, so a scenario never meets a name an earlier one took),
which keeps hypothesis' record of the choices consistent from one scenario to the next. Nothing is
raised inside a sequence (5xx answers are collected): hypothesis would replay a failing sequence
against a server whose state has moved on, and report that as inconsistent data generation."""

import os
import re
import zlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import requests

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402

from tests.app.conftest import PASSWORD  # noqa: E402
from tests.app.test_schemathesis import live_api  # noqa: E402,F401 — the fixture

SCENARIOS = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "25"))  # per family of linked operations
STEPS = int(os.environ.get("SCHEMATHESIS_STATEFUL_STEPS", "10"))
RANDOM = bool(os.environ.get("SCHEMATHESIS_RANDOM"))
# Only the links the API declares: inferred ones guess, and a guess that fails on one run and not the
# next makes hypothesis' choice record inconsistent.
CONFIG = {"phases": {"stateful": {"inference": {"algorithms": []}}}}
SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
WINDOWS_FROM = datetime(2030, 1, 1, tzinfo=timezone.utc)  # generated instants mostly fall outside 2000-2100


def declared_links(raw_schema: dict) -> dict[str, tuple[str, str]]:
    """Every link, named as schemathesis names a transition ('POST /a -> [201] Name -> GET /a/{id}'),
    with its source and target operations."""
    links = {}
    for path, operations in raw_schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                for name, link in response.get("links", {}).items():
                    target_path, _, target_method = link["operationRef"].removeprefix("#/paths/").rpartition("/")
                    source = f"{method.upper()} {path}"
                    target = f"{target_method.upper()} {target_path.replace('~1', '/').replace('~0', '~')}"
                    links[f"{source} -> [{status}] {name} -> {target}"] = (source, target)
    return links


def families(links: dict[str, tuple[str, str]]) -> dict[str, set[str]]:
    """Operations reachable by links from each one that no link leads to (a create): one state machine
    each, so every link gets its share of the steps."""
    following: dict[str, set[str]] = {}
    for source, target in links.values():
        following.setdefault(source, set()).add(target)
    roots = set(following) - {target for targets in following.values() for target in targets}
    reachable = {}
    for root in roots:
        seen, pending = {root}, [root]
        while pending:
            for target in following.get(pending.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    pending.append(target)
        reachable[root] = seen
    return reachable


def chains(links: dict[str, tuple[str, str]]) -> dict[str, set[str]]:
    """For each link that starts from an operation some other link leads to (e.g. PUT draft -> DELETE
    draft), the operations of one shortest chain from a create to its target: a state machine of its
    own, so that a deep link is not left to the share of steps its family happens to give it."""
    following: dict[str, set[str]] = {}
    for source, target in links.values():
        following.setdefault(source, set()).add(target)
    targets = {target for _, target in links.values()}
    result = {}
    for name, (source, target) in links.items():
        if source not in targets:
            continue
        paths = [[root] for root in sorted(set(following) - targets)]
        while paths and not any(path[-1] == source for path in paths):
            paths = [
                path + [step] for path in paths for step in sorted(following.get(path[-1], ())) if step not in path
            ]
        chain = next((path for path in paths if path[-1] == source), None)
        if chain is not None:
            result[name] = {*chain, target}
    return result


class Feeder:
    """Deterministic touches that get generated bodies past the checks a JSON schema cannot express
    (service ids that exist, receivers the SSRF guard allows, names not taken yet), so that creates
    succeed often enough for the links to be followed. Bodies that are not objects (the negative
    cases) pass untouched."""

    def __init__(self, service_ids: list[str], closed_month: tuple[str, str]):
        self.service_ids, self.closed_month = service_ids, closed_month
        self.serial = count(1)

    def known(self, ids):
        if not isinstance(ids, list):
            return ids
        return [self.service_ids[zlib.crc32(str(i).encode()) % len(self.service_ids)] for i in ids]

    def unique(self, name, pattern: re.Pattern, limit: int):
        if not isinstance(name, str) or not pattern.match(name):
            return name
        suffix = f"-{next(self.serial)}"
        return name[: limit - len(suffix)] + suffix

    def map_body(self, context, body):
        if not isinstance(body, dict):
            return body
        method, path = context.operation.method.upper(), context.operation.path
        if isinstance(body.get("data"), dict):  # drafts
            body["data"] = self.map_body(context, body["data"])
        if "affected_services" in body:  # incidents, maintenance windows
            body["affected_services"] = self.known(body["affected_services"])
        if isinstance(body.get("starts_at"), str) and isinstance(body.get("ends_at"), str):  # windows
            start = WINDOWS_FROM + timedelta(minutes=zlib.crc32(body["starts_at"].encode()) % (366 * 24 * 60))
            body["starts_at"], body["ends_at"] = start.isoformat(), (start + timedelta(hours=2)).isoformat()
        if path.startswith("/api/subscriptions"):
            body = self.receiver(body)
        elif (method, path) == ("POST", "/api/users"):
            body["username"] = self.unique(body.get("username"), USERNAME, 64)
        elif (method, path) == ("POST", "/api/services"):
            body["id"] = self.unique(body.get("id"), SERVICE_ID, 50)
            if isinstance(body.get("url"), str):
                body["url"] = "tcp://127.0.0.1:9" if body.get("kind") == "tcp" else "http://127.0.0.1:9/health"
                body["allow_private"] = True
        return body

    def receiver(self, body: dict) -> dict:
        if "services" in body:
            body["services"] = self.known(body["services"])
        if body.get("kind") == "email" or (body.get("kind") is None and isinstance(body.get("email"), str)):
            body.pop("url", None)
            body["email"] = "ops@example.com"
        elif "url" in body or "kind" in body:
            body.pop("email", None)
            body["url"], body["allow_private"] = "http://127.0.0.1:9/hook", True
        return body

    def map_path_parameters(self, context, parameters):
        operation = context.operation
        if (operation.method.upper(), operation.path) == ("POST", "/api/sla/reports/{service_id}/{month}/revisions"):
            parameters = {**(parameters or {}), "service_id": self.closed_month[0], "month": self.closed_month[1]}
        return parameters


@pytest.fixture
async def closed_month(staff_db):
    """A closed month with revision 1 frozen, so that corrections (POST …/revisions) can succeed."""
    from app.ingest.service import CheckRow, write_checks
    from app.periods import add_months, month
    from app.reports import service as reports

    now = datetime.now(timezone.utc)
    first = add_months(now.date().replace(day=1), -1)
    period = month(first.year, first.month, ZoneInfo("UTC"))
    await write_checks(staff_db, [CheckRow(period.start, "id-recognition", "seoul", True, 200, 120)], now=now)
    assert await reports.close_month(staff_db, period, now, "UTC") == ["id-recognition"]
    return "id-recognition", period.label


def sequences(schema, base_url: str, token: str, record):
    """A state machine over `schema`'s links that signs every call in and records every step."""

    class Sequences(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": base_url, "timeout": 30}

        def call(self, case, **kwargs):
            # Signed in on every call, negative cases included: a negative case that only drops the token
            # tests the sign-in (the security matrix's job) and would spend a step on a 401.
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            return case.call(**kwargs)

        def step(self, input):
            output = super().step(input)
            record(input, output.response)
            return output

        def validate_response(self, response, case, **kwargs):
            """Checked by `record`: a raise here would make hypothesis replay the sequence against a
            server whose state has moved on."""

    return Sequences


def test_linked_sequences_reach_the_created_resources_without_server_errors(live_api, closed_month):
    token = requests.post(
        f"{live_api}/api/auth/login", json={"username": "fuzzer", "password": PASSWORD}, timeout=10
    ).json()["accessToken"]
    service_ids = [s["id"] for s in requests.get(f"{live_api}/api/services", timeout=10).json()["services"][1:]]
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json", config=SchemathesisConfig.from_dict(CONFIG))
    feeder = Feeder(service_ids, closed_month)
    schema.hooks.register_hook_with_name(feeder.map_body, "map_body")
    schema.hooks.register_hook_with_name(feeder.map_path_parameters, "map_path_parameters")
    links = declared_links(schema.raw_schema)
    failures, statuses, reached = [], Counter(), Counter()

    def record(step, response):
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(
                (step.case.operation.label, response.status_code, response.text[:300], step.case.as_curl_command())
            )
        if step.transition is not None and step.is_applied and 200 <= response.status_code < 300:
            reached[step.transition.id] += 1

    settings = hsettings(
        max_examples=SCENARIOS,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    for _root, labels in sorted(families(links).items()):
        sequences(schema.include(name=sorted(labels)), live_api, token, record).run(settings=settings)
    for _name, labels in sorted(chains(links).items()):
        sequences(schema.include(name=sorted(labels)), live_api, token, record).run(settings=settings)
    print("stateful calls by status:", dict(sorted(statuses.items())))
    print("successful calls by link:", dict(sorted(reached.items())))
    assert failures == [], "\n".join(map(str, failures))
    assert len(links) >= 32, "the API declares fewer links than expected"
    never = sorted(set(links) - set(reached))
    assert never == [], "links never followed to a successful call:\n" + "\n".join(never)
