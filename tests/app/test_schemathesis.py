"""Property-based fuzzing of every operation in the OpenAPI schema with schemathesis, signed in as an
admin, against a live API process: no input may cause a server error (5xx). Bounded: a few examples
per operation (SCHEMATHESIS_EXAMPLES to raise it), well under two minutes."""

import os
import subprocess
import sys
import time

import pytest
import requests

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from tests.app.conftest import PASSWORD, ROOT  # noqa: E402
from tests.app.services.conftest import restore_catalog  # noqa: E402
from tests.app.test_realtime import free_port  # noqa: E402

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
# The same inputs on every run, so that CI is repeatable; SCHEMATHESIS_RANDOM=1 explores new ones.
RANDOM = bool(os.environ.get("SCHEMATHESIS_RANDOM"))
# Ending the admin's own session or password would sign the fuzzer out midway; both are covered by
# the auth tests and the security matrix.
SKIPPED = {("POST", "/api/auth/logout"), ("POST", "/api/auth/password")}


@pytest.fixture
async def live_api(staff_db, database_url, tmp_path):
    """A real API process (uvicorn) on a free port with an admin 'fuzzer'; the catalog is restored
    afterwards (services created or edited through the API outlive a test otherwise)."""
    env = {
        **os.environ,
        "SLAMON_DATABASE_URL": database_url,
        "SLAMON_SECRET_KEY": "schemathesis-secret-0123456789-abcdef",
        "SLAMON_DATA_DIR": str(tmp_path),
        "SLAMON_POOL_MIN": "1",
        "SLAMON_POOL_MAX": "5",
    }
    create = (
        "import sys; from app.users.cli import run_sync; "
        "sys.exit(run_sync(['user', 'create', 'fuzzer', '--role', 'admin']))"
    )
    subprocess.run(
        [sys.executable, "-c", create],
        input=PASSWORD + "\n",
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    # bcrypt at its minimum cost, as in the other API tests: the same code path, milliseconds a hash
    serve = (
        "import uvicorn; from app.auth import passwords; passwords.ROUNDS = 4; "
        f"uvicorn.run('app.main:create_app', factory=True, port={port}, log_level='warning')"
    )
    proc = subprocess.Popen([sys.executable, "-c", serve], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        # Start-up is a set-up bound, not a checked figure: importing the app takes 2-3 s of CPU, which a
        # loaded machine stretches past 20 s of wall time.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        await restore_catalog(staff_db)


def test_no_input_causes_a_server_error(live_api):
    token = requests.post(
        f"{live_api}/api/auth/login", json={"username": "fuzzer", "password": PASSWORD}, timeout=10
    ).json()["accessToken"]
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    session = requests.Session()
    failures, calls = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @hsettings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=not RANDOM,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case):
            headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            response = case.call(base_url=live_api, session=session, headers=headers, timeout=10)
            calls.append(response.status_code)
            if response.status_code >= 500:
                where = (operation.method, operation.path)  # noqa: B023 — fuzz() runs within its own iteration
                failures.append((*where, response.status_code, response.text[:200], case.as_curl_command()))
            case.validate_response(response, checks=[not_a_server_error], headers=headers)

        try:
            fuzz()
        except BaseException as exc:  # noqa: BLE001 — collect and keep fuzzing the other operations
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append((operation.method, operation.path, type(exc).__name__, str(exc)[:300]))
    print("schemathesis calls by status:", {s: calls.count(s) for s in sorted(set(calls))})
    assert len(calls) > 100
    assert failures == [], "\n".join(map(str, failures))
