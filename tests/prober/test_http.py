"""HTTP checks against real local servers: every outcome, assertions, redirects, TLS, phases."""

import ssl
import time

import pytest

from prober.checks import run_check
from prober.client import ProbeContext
from tests.prober.conftest import target
from tests.prober.servers import closed_port


async def test_healthy_target_reports_status_latency_and_phases(ctx, web_port):
    result = await run_check(target(f"http://127.0.0.1:{web_port}/ok"), ctx, 5)
    assert (result.ok, result.status_code, result.error_type) == (True, 200, None)
    assert {"connect", "first_byte", "total"} <= set(result.phases_ms)
    assert result.phases_ms["connect"] <= result.phases_ms["first_byte"] <= result.phases_ms["total"] + 1


async def test_hostname_target_reports_dns_phase(ctx, web_port):
    result = await run_check(target(f"http://localhost:{web_port}/ok"), ctx, 5)
    assert result.ok and "dns" in result.phases_ms


@pytest.mark.parametrize(
    "path, check, error_type, words",
    [
        ("/status/503", {}, "http_error", "unexpected status 503"),
        ("/status/404", {"expected_status": [200]}, "http_error", "expected [200]"),
        ("/text", {"keyword": "catastrophe"}, "assertion_failed", "keyword 'catastrophe' not found"),
        ("/ok", {"json_path": "data.items.0.state", "json_value": "broken"}, "assertion_failed", "expected 'broken'"),
        ("/ok", {"json_path": "data.items.5.state"}, "assertion_failed", "not present"),
        ("/text", {"json_path": "status"}, "assertion_failed", "not valid JSON"),
    ],
)
async def test_failed_expectations_name_what_failed(ctx, web_port, path, check, error_type, words):
    result = await run_check(target(f"http://127.0.0.1:{web_port}{path}", check=check), ctx, 5)
    assert (result.ok, result.error_type) == (False, error_type)
    assert words in result.error_message


@pytest.mark.parametrize(
    "path, check",
    [
        ("/status/503", {"expected_status": [503]}),
        ("/text", {"keyword": "nominal"}),
        ("/ok", {"json_path": "data.items.0.state", "json_value": "ready"}),
        ("/ok", {"json_path": "data.items.0.count", "json_value": 3}),
        ("/ok", {"json_path": "data.items.0.count", "json_value": "3"}),
        ("/redirect/3", {"json_path": "status", "json_value": "ok"}),
        ("/redirect/1", {"expected_status": [302]}),  # an expected redirect is not followed
    ],
)
async def test_met_expectations_pass(ctx, web_port, path, check):
    result = await run_check(target(f"http://127.0.0.1:{web_port}{path}", check=check), ctx, 5)
    assert result.ok, result.error_message


async def test_method_headers_and_body_are_sent(ctx, web_port):
    check = {
        "method": "POST",
        "headers": {"X-Token": "s3cret"},
        "body": "ping",
        "json_path": "token",
        "json_value": "s3cret",
    }
    result = await run_check(target(f"http://127.0.0.1:{web_port}/echo", check=check), ctx, 5)
    assert result.ok, result.error_message
    check = {"method": "PUT", "body": "ping", "json_path": "body", "json_value": "ping"}
    assert (await run_check(target(f"http://127.0.0.1:{web_port}/echo", check=check), ctx, 5)).ok


async def test_too_many_redirects_is_an_http_error(ctx, web_port):
    result = await run_check(target(f"http://127.0.0.1:{web_port}/redirect/7"), ctx, 5)
    assert (result.ok, result.error_type) == (False, "http_error")
    assert "more than 5 redirects" in result.error_message


async def test_timeout(ctx, web_port):
    started = time.monotonic()
    result = await run_check(target(f"http://127.0.0.1:{web_port}/sleep?s=5"), ctx, 0.5)
    assert (result.ok, result.error_type) == (False, "timeout")
    assert "within 0.5 s" in result.error_message and "first byte" in result.error_message
    assert time.monotonic() - started < 2


async def test_connection_refused(ctx):
    result = await run_check(target(f"http://127.0.0.1:{closed_port()}/"), ctx, 5)
    assert (result.ok, result.error_type) == (False, "connection_error")


async def test_unresolvable_name_is_a_dns_error(ctx):
    result = await run_check(target("http://no-such-host.invalid/health"), ctx, 10)
    assert (result.ok, result.error_type) == (False, "dns_error")


async def test_self_signed_certificate_is_a_tls_error(ctx, tls_port):
    result = await run_check(target(f"https://127.0.0.1:{tls_port}/ok"), ctx, 5)
    assert (result.ok, result.error_type) == (False, "tls_error")
    assert "certificate" in result.error_message


async def test_tls_verification_can_be_turned_off(ctx, tls_port):
    result = await run_check(target(f"https://127.0.0.1:{tls_port}/ok", check={"verify_tls": False}), ctx, 5)
    assert result.ok, result.error_message
    assert "tls" in result.phases_ms


async def test_trusted_certificate_reports_expiry_and_tls_phase(cert, tls_port):
    context = ssl.create_default_context(cafile=str(cert[0]))
    probe_ctx = ProbeContext(ssl_context=context)
    try:
        result = await run_check(target(f"https://localhost:{tls_port}/ok"), probe_ctx, 5)
    finally:
        await probe_ctx.close()
    assert result.ok, result.error_message
    assert {"dns", "connect", "tls", "first_byte", "total"} <= set(result.phases_ms)
    assert 29 * 86400 < result.cert_expires_at - time.time() < 31 * 86400


async def test_tls_to_a_plain_http_port_is_a_tls_error(ctx, web_port):
    result = await run_check(target(f"https://127.0.0.1:{web_port}/ok"), ctx, 5)
    assert (result.ok, result.error_type) == (False, "tls_error")
