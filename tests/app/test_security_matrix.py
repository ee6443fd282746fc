"""Every write route of the OpenAPI schema (and every GET that is not explicitly public) through a
matrix of bad tokens: missing, expired, not yet valid, tampered, alg=none, wrong key, wrong type,
revoked, wrong role. Each must answer 401/403 and leave the database unchanged; the least role the
PRD §6.2 matrix allows then gets through (so the bodies are real and the test is not vacuous)."""

from datetime import datetime, timedelta, timezone

import jwt
import pytest

from app.auth import tokens
from tests.app.services.conftest import restore_catalog

PUBLIC_GETS = {
    "/api/system-status",
    "/api/services",
    "/api/uptime/{service_id}",
    "/api/incidents",
    "/api/incidents/past",
    "/api/incidents/{incident_id}",
    "/api/sla/response-times/{service_id}",
    "/api/sla/availability/{service_id}",
    "/api/sla/usage/{service_id}",
    "/api/sla/incidents/stats",
    "/api/maintenance",
    "/api/maintenance/{window_id}",
    "/api/realtime/replay",
    "/api/health",
    "/feeds/incidents.rss",
    "/feeds/incidents.atom",
    "/api/slo/violations",
    "/api/slo/{service_id}",
    "/api/slo-definitions",
    "/api/slo-definitions/{name}",
    "/api/slo-definitions/{name}/status",
    "/api/slo-definitions/{name}/violations",
    "/api/slo/{service_id}/forecast",
    "/api/slo-definitions/{name}/forecast",
}
PUBLIC_GETS |= {
    "/api/sla/reports/{service_id}/{month}.{fmt}",
    "/api/sla/reports/{service_id}/{month}/revisions",
    "/api/usage/trends/{service_id}",
    "/reports",
    "/trends/{service_id}",
}
PUBLIC_GETS |= {"/api/health/live", "/api/health/ready"}  # orchestrators' probes
PUBLIC_GETS |= {"/feeds/services/{service_id}/incidents.{fmt}"}
# Public subscriptions: no account; subscribing is open (rate-limited), everything else takes a signed
# link of its own kind, never an access token (tests/app/subscribers).
PUBLIC_SUBSCRIPTIONS = ("/api/public/subscriptions",)
# A delivered statement's signed link (tests/app/customers/test_delivery.py): the token is the key.
SIGNED_STATEMENT_LINKS = ("/api/public/statements/",)
CREDENTIAL_EXCHANGE = {("POST", "/api/auth/login"), ("POST", "/api/auth/refresh")}  # take credentials in the body
# A credential of their own, never a JWT: the paging services' signature or token, the calendar feed's
# URL token (refusals tested in tests/app/escalation/test_callbacks.py, tests/app/oncall/test_schedules.py).
OWN_CREDENTIAL = {
    ("POST", "/api/escalation/callbacks/pagerduty"),
    ("POST", "/api/escalation/callbacks/opsgenie"),
    ("GET", "/api/oncall/schedules/{schedule_id}/calendar.ics"),
}
INGEST = ("/api/ingest/", "/v1/traces")  # per-service ingest keys, never JWTs (OTLP/HTTP too)

WINDOW = {
    "title": "DB upgrade",
    "affected_services": ["id-recognition"],
    "starts_at": "2025-09-01T00:00:00Z",
    "ends_at": "2025-09-01T02:00:00Z",
}
SUBSCRIPTION = {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/hook", "allow_private": True}
CUSTOMER = {
    "id": "matrix-co",
    "name": "Matrix Co.",
    "tier": "developer",
    "currency": "EUR",
    "monthly_fee": "10.00",
    "starts_on": "2025-01-01",
    "services": ["id-recognition"],
}
OVERRIDE = {"availability": "99", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}
SCHEDULE = {
    "id": "matrix-rota",
    "name": "r",
    "time_zone": "Asia/Seoul",
    "rotation": "daily",
    "handoff_time": "09:00",
    "start_date": "2026-01-01",
    "participants": ["admin"],
}
SHIFT = {"username": "admin", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}
POLICY = {"id": "matrix-policy", "name": "p", "levels": [{"delay_seconds": 0, "subscriptions": ["hook"]}]}
SLO_DEFINITION = {
    "services": ["id-recognition"],
    "sli": {"source": "checks", "good": {"ok": True}},
    "window": {"kind": "rolling", "days": 28},
    "target": "99.9",
}
# The least role allowed, and a valid request: (role, body).
MATRIX = {
    ("POST", "/api/incidents"): ("reporter", {"title": "t", "severity": "low"}),
    ("PUT", "/api/incidents/{incident_id}"): ("reporter", {"title": "t2", "version": 1}),
    ("DELETE", "/api/incidents/{incident_id}"): ("admin", None),
    ("POST", "/api/incidents/{incident_id}/updates"): ("reporter", {"description": "note", "version": 1}),
    ("GET", "/api/incidents/{incident_id}/comments"): ("viewer", None),
    ("POST", "/api/incidents/{incident_id}/comments"): ("reporter", {"message": "m"}),
    ("GET", "/api/incidents/{incident_id}/draft"): ("reporter", None),
    ("PUT", "/api/incidents/{incident_id}/draft"): ("reporter", {"data": {"title": "d"}}),
    ("DELETE", "/api/incidents/{incident_id}/draft"): ("reporter", None),
    ("GET", "/api/incidents/drafts/new"): ("reporter", None),
    ("PUT", "/api/incidents/drafts/new"): ("reporter", {"data": {"title": "d"}}),
    ("DELETE", "/api/incidents/drafts/new"): ("reporter", None),
    ("POST", "/api/auth/logout"): ("viewer", None),
    ("GET", "/api/auth/me"): ("viewer", None),
    ("POST", "/api/auth/password"): ("viewer", {"current_password": "wrong", "new_password": "new password 1"}),
    ("GET", "/api/users"): ("admin", None),
    ("POST", "/api/users"): ("admin", {"username": "newbie", "role": "viewer", "password": "password 123"}),
    ("GET", "/api/users/{user_id}"): ("admin", None),
    ("PUT", "/api/users/{user_id}"): ("admin", {"role": "reporter"}),
    ("DELETE", "/api/users/{user_id}"): ("admin", None),
    ("GET", "/api/audit"): ("admin", None),
    ("POST", "/api/maintenance"): ("admin", WINDOW),
    ("PUT", "/api/maintenance/{window_id}"): ("admin", WINDOW),
    ("DELETE", "/api/maintenance/{window_id}"): ("admin", None),
    ("PUT", "/api/services/{service_id}"): ("admin", {"description": "edited"}),
    ("POST", "/api/services"): ("admin", {"id": "matrix-svc", "name": "Matrix"}),
    ("GET", "/api/services/{service_id}"): ("admin", None),
    ("DELETE", "/api/services/{service_id}"): ("admin", None),
    ("GET", "/api/services/{service_id}/ingest-keys"): ("admin", None),
    ("POST", "/api/services/{service_id}/ingest-keys"): ("admin", {"revoke_others": False}),
    ("DELETE", "/api/services/{service_id}/ingest-keys"): ("admin", None),
    ("DELETE", "/api/services/{service_id}/ingest-keys/{key_id}"): ("admin", None),
    ("POST", "/api/sla/reports/{service_id}/{month}/revisions"): ("admin", {"reason": "late check results"}),
    ("GET", "/api/customers"): ("admin", None),
    ("POST", "/api/customers"): ("admin", CUSTOMER),
    ("GET", "/api/customers/{customer_id}"): ("admin", None),
    ("PUT", "/api/customers/{customer_id}"): ("admin", CUSTOMER),
    ("DELETE", "/api/customers/{customer_id}"): ("admin", None),
    ("POST", "/api/customers/{customer_id}/overrides"): ("admin", OVERRIDE),
    ("DELETE", "/api/customers/{customer_id}/overrides/{override_id}"): ("admin", None),
    ("GET", "/api/customers/{customer_id}/statements/{month}.{fmt}"): ("admin", None),
    ("GET", "/api/customers/{customer_id}/statements.{fmt}"): ("admin", None),
    ("GET", "/api/customers/{customer_id}/statements/{month}/deliveries"): ("admin", None),
    ("GET", "/api/customers/{customer_id}/statements/{month}/revisions"): ("admin", None),
    ("POST", "/api/customers/{customer_id}/statements/{month}/revisions"): ("admin", {"reason": "fee corrected"}),
    ("GET", "/api/subscriptions"): ("admin", None),
    ("POST", "/api/subscriptions"): ("admin", SUBSCRIPTION),
    ("GET", "/api/subscriptions/{subscription_id}"): ("admin", None),
    ("PUT", "/api/subscriptions/{subscription_id}"): ("admin", {"name": "renamed"}),
    ("DELETE", "/api/subscriptions/{subscription_id}"): ("admin", None),
    ("POST", "/api/subscriptions/{subscription_id}/test"): ("admin", None),
    ("GET", "/api/subscriptions/{subscription_id}/deliveries"): ("admin", None),
    ("GET", "/api/escalation-policies"): ("admin", None),
    ("POST", "/api/escalation-policies"): ("admin", POLICY),
    ("GET", "/api/escalation-policies/{policy_id}"): ("admin", None),
    ("PUT", "/api/escalation-policies/{policy_id}"): ("admin", {k: v for k, v in POLICY.items() if k != "id"}),
    ("DELETE", "/api/escalation-policies/{policy_id}"): ("admin", None),
    ("GET", "/api/incidents/{incident_id}/escalation"): ("viewer", None),
    ("POST", "/api/incidents/{incident_id}/acknowledge"): ("reporter", None),
    ("GET", "/api/oncall/schedules"): ("viewer", None),
    ("POST", "/api/oncall/schedules"): ("admin", SCHEDULE),
    ("GET", "/api/oncall/schedules/{schedule_id}"): ("viewer", None),
    ("PUT", "/api/oncall/schedules/{schedule_id}"): ("admin", {k: v for k, v in SCHEDULE.items() if k != "id"}),
    ("POST", "/api/oncall/schedules/{schedule_id}/feed-token"): ("admin", None),
    ("GET", "/api/oncall/schedules/{schedule_id}/on-call"): ("viewer", None),
    ("GET", "/api/oncall/schedules/{schedule_id}/timeline"): ("viewer", None),
    ("POST", "/api/oncall/schedules/{schedule_id}/overrides"): ("admin", SHIFT),
    ("DELETE", "/api/oncall/schedules/{schedule_id}/overrides/{override_id}"): ("admin", None),
    ("DELETE", "/api/oncall/schedules/{schedule_id}"): ("admin", None),
    ("PUT", "/api/slo-definitions/{name}"): ("admin", SLO_DEFINITION),
    ("DELETE", "/api/slo-definitions/{name}"): ("admin", None),
    ("POST", "/api/slo-definitions:apply"): ("admin", None),  # YAML body: the gate answers before it is read
    ("GET", "/api/slo-definitions.yaml"): ("viewer", None),
}
BELOW = {"viewer": None, "reporter": "viewer", "admin": "reporter"}
SNAPSHOT_TABLES = (
    "incidents",
    "incident_updates",
    "incident_comments",
    "incident_drafts",
    "users",
    "refresh_tokens",
    "maintenance_windows",
    "services",
    "customers",
    "customer_target_overrides",
    "customer_statements",
    "login_throttle",
    "subscriptions",
    "notification_events",
    "notification_deliveries",
    "escalation_policies",
    "incident_escalations",
    "escalation_log",
    "oncall_schedules",
    "oncall_overrides",
    "slo_definitions",
)


async def snapshot(conn) -> dict:
    return {
        t: await conn.fetchval(f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x")
        for t in SNAPSHOT_TABLES
    }


def forged(secret: str, claims_user: dict, **changes) -> str:
    now = datetime.now(timezone.utc)
    claims = {
        **claims_user,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(hours=1),
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "typ": "access",
        **changes,
    }
    return jwt.encode(claims, tokens.signing_key(secret), algorithm="HS256")


def routes(app):
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            yield method.upper(), path


def test_every_route_is_classified(staff):
    unclassified = [
        (m, p)
        for m, p in routes(staff.app)
        if not (m == "GET" and p in PUBLIC_GETS)
        and (m, p) not in CREDENTIAL_EXCHANGE
        and (m, p) not in OWN_CREDENTIAL
        and not p.startswith(INGEST)
        and not p.startswith(PUBLIC_SUBSCRIPTIONS)
        and not (m == "GET" and p.startswith(SIGNED_STATEMENT_LINKS))
        and (m, p) not in MATRIX
    ]
    assert unclassified == [], "add these routes to the security matrix"
    assert set(MATRIX) <= set(routes(staff.app))


async def test_bad_tokens_never_get_through(staff, settings):
    secret = settings.resolved_secret_key()
    conn = staff.conn
    admin_pair = await staff.login("admin")
    reporter = await staff.login("reporter")
    viewer = await staff.login("viewer")
    victim = await staff.user("viewer", "victim")
    incident = (
        await staff.client.post(
            "/api/incidents", json={"title": "x", "severity": "low"}, headers=await staff.headers("reporter")
        )
    ).json()["incident"]
    window = (await staff.client.post("/api/maintenance", json=WINDOW, headers=await staff.headers("admin"))).json()
    subscription = (
        await staff.client.post("/api/subscriptions", json=SUBSCRIPTION, headers=await staff.headers("admin"))
    ).json()["subscription"]
    ids = {
        "{incident_id}": incident["id"],
        "{user_id}": victim,
        "{window_id}": str(window["window"]["id"]),
        "{service_id}": "id-recognition",
        "{subscription_id}": str(subscription["id"]),
        "{customer_id}": "matrix-co",
        "{override_id}": "1",
        "{policy_id}": POLICY["id"],
        "{schedule_id}": SCHEDULE["id"],
        "{name}": "matrix-slo",
    }
    revoked = await staff.login("admin", "leaver")
    await staff.client.post("/api/auth/logout", headers={"Authorization": f"Bearer {revoked['accessToken']}"})
    user_claims = jwt.decode(admin_pair["accessToken"], options={"verify_signature": False})
    user_claims = {k: user_claims[k] for k in ("sub", "role", "sid", "tv")}
    header, payload, signature = admin_pair["accessToken"].split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    escalated_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(jwt.encode({**user_claims, "role": "admin"}, "k" * 32, "HS256").split(".")[1])
    ).decode()
    bad_tokens = {
        "missing": None,
        "garbage": "not.a.token",
        "expired": forged(
            secret,
            user_claims,
            iat=datetime.now(timezone.utc) - timedelta(hours=25),
            nbf=datetime.now(timezone.utc) - timedelta(hours=25),
            exp=datetime.now(timezone.utc) - timedelta(hours=1),
        ),
        "not yet valid": forged(secret, user_claims, nbf=datetime.now(timezone.utc) + timedelta(hours=1)),
        "tampered signature": f"{header}.{payload}.{flipped}",
        "tampered payload": f"{header}.{escalated_payload}.{signature}",
        "alg none": jwt.encode(
            {
                **user_claims,
                "typ": "access",
                "iss": tokens.ISSUER,
                "aud": tokens.AUDIENCE,
                "exp": datetime.now(timezone.utc) + timedelta(hours=1),
                "iat": datetime.now(timezone.utc),
                "nbf": datetime.now(timezone.utc),
            },
            None,
            algorithm="none",
        ),
        "wrong key": jwt.encode(
            {**user_claims, "typ": "access"}, "another-secret-of-sufficient-length-0123456789", algorithm="HS256"
        ),
        "refresh token as access": admin_pair["refreshToken"],
        "typ refresh": forged(secret, user_claims, typ="refresh"),
        "missing claims": forged(secret, {"sub": user_claims["sub"], "role": "admin"}),
        "revoked session": revoked["accessToken"],
        "stale token version": forged(secret, user_claims, tv=user_claims["tv"] + 1),
    }
    before = await snapshot(conn)
    for (method, template), (least_role, body) in MATRIX.items():
        path = template
        for placeholder, value in ids.items():
            path = path.replace(placeholder, value)
        cases = dict(bad_tokens)
        if BELOW[least_role]:
            cases["wrong role"] = (reporter if BELOW[least_role] == "reporter" else viewer)["accessToken"]
        for name, token in cases.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            r = await staff.client.request(method, path, json=body, headers=headers)
            expected = 403 if name == "wrong role" else 401
            assert r.status_code == expected, (method, template, name, r.status_code, r.text)
            assert r.json()["error"] in ("unauthorized", "forbidden")
        assert await snapshot(conn) == before, (method, template)
    # Positive control: the least allowed role passes the gate with the same requests.
    for n, ((method, template), (least_role, body)) in enumerate(MATRIX.items()):
        path = template
        for placeholder, value in ids.items():
            path = path.replace(placeholder, value)
        token = (await staff.login(least_role, f"{least_role}-{n}"))["accessToken"]
        r = await staff.client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code not in (401, 500) and (r.status_code != 403 or template == "/api/auth/password"), (
            method,
            template,
            r.status_code,
            r.text,
        )
    await conn.execute("TRUNCATE customer_target_overrides, customer_services, customers")  # the created customer
    await conn.execute("TRUNCATE slo_definitions CASCADE")  # the definition the positive control wrote
    await restore_catalog(conn)  # undo the service edit and drop the created service for later tests


@pytest.mark.parametrize("path", ["/api/ingest/checks", "/api/ingest/api-calls", "/v1/traces"])
async def test_ingest_refuses_jwts(staff, path):
    r = await staff.client.post(path, json=[], headers=await staff.headers("admin"))
    assert r.status_code == 401
