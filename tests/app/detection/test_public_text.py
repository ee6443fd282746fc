"""Issue 14: what the public reads about a detected outage (incident API, status page, feeds, the
notifications' recorded events) says what failed in user words; it never carries the target's URL,
host, address or the probe's raw error, which stay in the admin-only audit log."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app.detection.service import detect, failure_summary
from app.ingest.service import CheckRow, write_checks
from prober.checks import run_check
from prober.client import ProbeContext
from prober.models import Target

SERVICE = "edge-gateway"
URL = "http://127.0.0.1:1/health"


@pytest.fixture
async def failing_service(conn):
    await conn.execute(
        "INSERT INTO services (id, name, endpoint_url, allow_private, managed_by) "
        "VALUES ($1, 'Edge Gateway', $2, true, 'api') ON CONFLICT (id) DO NOTHING",
        SERVICE,
        URL,
    )
    yield SERVICE
    await conn.execute("DELETE FROM incident_updates")
    await conn.execute("DELETE FROM incidents")
    await conn.execute("DELETE FROM checks WHERE service_id = $1", SERVICE)
    await conn.execute("DELETE FROM services WHERE id = $1", SERVICE)


async def _probe_three_slots(conn, now: datetime) -> str:
    """Three failed slots from real probes of 127.0.0.1:1; the raw error the prober recorded."""
    ctx = ProbeContext()
    try:
        results = [await run_check(Target(SERVICE, "http", URL, allow_private=True), ctx, 10) for _ in range(3)]
    finally:
        await ctx.close()
    assert all(not r.ok and r.error_type == "connection_error" for r in results)
    raw = results[0].error_message
    assert "127.0.0.1" in raw  # the precondition: the raw error names the target
    slots = [now - timedelta(minutes=4 - i) for i in range(3)]
    await write_checks(
        conn,
        [
            CheckRow(ts, SERVICE, "seoul", False, r.status_code, r.latency_ms, r.error_type, r.error_message)
            for ts, r in zip(slots, results)
        ],
        now=now,
    )
    return raw


def _assert_private(text: str, raw: str, where: str) -> None:
    for secret in ("127.0.0.1", URL, raw, "Cannot connect"):
        assert secret not in text, f"{where} publishes {secret!r}"


async def test_public_texts_never_name_the_target_or_the_raw_error(conn, pool, settings, make_client, failing_service):
    from app.main import create_app

    now = datetime.now(timezone.utc).replace(second=30, microsecond=0)
    raw = await _probe_three_slots(conn, now)
    await detect(conn, SERVICE, now, 30)
    (incident_id,) = [r["id"] for r in await conn.fetch("SELECT id FROM incidents")]

    client = await make_client(now=now)
    single = await client.get(f"/api/incidents/{incident_id}")
    assert single.status_code == 200
    (note,) = single.json()["incident"]["updates"]
    assert "3 consecutive failed checks" in note["description"]
    assert "the service could not be reached ×3" in note["description"]
    public = {
        "incident JSON": single.text,
        "open incidents JSON": (await client.get("/api/incidents")).text,
        "past incidents JSON": (await client.get("/api/incidents/past?days=7")).text,
        "RSS feed": (await client.get("/feeds/incidents.rss")).text,
        "Atom feed": (await client.get("/feeds/incidents.atom")).text,
    }
    assert incident_id in public["RSS feed"] and incident_id in public["open incidents JSON"]

    status_app = create_app(settings, site="status")
    status_app.state.pool = pool
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=status_app), base_url="http://test") as browser:
        page = await browser.get("/")
    assert page.status_code == 200 and "Edge Gateway" in page.text
    public["status page HTML"] = page.text
    events = await conn.fetch("SELECT payload::text AS payload FROM notification_events")
    assert events, "the incident was recorded for the subscribers"
    public["notification events"] = "\n".join(e["payload"] for e in events)
    for where, text in public.items():
        _assert_private(text, raw, where)

    # The raw error stays available to admins: in the audit log of the detection.
    details = await conn.fetchval(
        "SELECT details::text FROM audit_log WHERE action = 'detection.open' AND target_id = $1", incident_id
    )
    assert "127.0.0.1" in details and "connection_error" in details


async def test_notes_written_before_the_fix_lose_their_raw_errors(conn):
    from tests.conftest import ROOT

    incident_id = await conn.fetchval(
        "INSERT INTO incidents (title, severity, priority) VALUES "
        "('Face Compare is down', 'critical', 'P1') RETURNING id"
    )
    old = [
        "Detected automatically by the monitoring system: 3 consecutive failed checks from 2025-08-01 12:06:00 UTC "
        "to 2025-08-01 12:08:00 UTC (connection_error: ClientConnectorError: Cannot connect to host 127.0.0.1:1 "
        "ssl:default [Connect call failed ('127.0.0.1', 1)] ×3).",
        "The problem is back: 3 consecutive failed checks up to 2025-08-01 13:00:00 UTC (timeout: no complete "
        "response within 30 s (timed out during connect) ×2; dns_error: db.internal.example ×1). "
        "The incident stays open.",
        "Recovered: 5 consecutive good checks from 2025-08-01 12:09:00 UTC to 2025-08-01 12:13:00 UTC. "
        "Moved to monitoring automatically by the monitoring system; resolve it once the cause is understood.",
    ]
    for text in old + [
        "Written by a person (who may quote 127.0.0.1 on purpose) with 3 consecutive failed checks "
        "at 2025-08-01 12:00:00 UTC (sic)."
    ]:
        author = "monitoring system" if text in old else "alice"
        await conn.execute(
            "INSERT INTO incident_updates (incident_id, status, description, author) "
            "VALUES ($1, 'investigating', $2, $3)",
            incident_id,
            text,
            author,
        )
    await conn.execute((ROOT / "sql" / "111_scrub_detection_notes.sql").read_text())
    notes = [r["description"] for r in await conn.fetch("SELECT description FROM incident_updates ORDER BY id")]
    assert notes[0] == (
        "Detected automatically by the monitoring system: 3 consecutive failed checks from "
        "2025-08-01 12:06:00 UTC to 2025-08-01 12:08:00 UTC."
    )
    assert notes[1] == (
        "The problem is back: 3 consecutive failed checks up to 2025-08-01 13:00:00 UTC. The incident stays open."
    )
    assert notes[2] == old[2]
    assert "127.0.0.1" in notes[3]  # a person's own words are theirs


@pytest.mark.parametrize(
    "rows, text",
    [
        ([("timeout", None, 3)], "no answer in time ×3"),
        (
            [("connection_error", None, 2), ("dns_error", None, 1)],
            "the service could not be reached ×2; the service's address could not be found ×1",
        ),
        ([("tls_error", None, 3)], "no secure connection could be established ×3"),
        ([("http_error", 503, 2), ("http_error", 500, 1)], "HTTP 503 responses ×2; HTTP 500 responses ×1"),
        ([("http_error", None, 3)], "error responses ×3"),
        ([("assertion_failed", 200, 3)], "unexpected responses ×3"),
        ([("timeout", None, 1), ("timeout", None, 2)], "no answer in time ×3"),  # two raw messages, one kind
        ([("failed", None, 3)], "failed checks ×3"),
    ],
)
def test_failures_are_said_in_user_words(rows, text):
    summary = failure_summary(
        [{"error_type": e, "status_code": s, "error_message": "connect to 10.0.0.7:8443", "n": n} for e, s, n in rows]
    )
    assert summary == text and "10.0.0.7" not in summary
