"""Email through SMTP, against a real debugging SMTP server (aiosmtpd) on loopback; off without a host."""

import email
from datetime import datetime, timedelta, timezone

from app.notifications import outbox
from tests.app.notifications.conftest import delivery_rows, subscribe, wait_until
from workers import notify

INCIDENT = {
    "title": "결제 API 장애",
    "severity": "critical",
    "affected_services": ["face-compare"],
    "note": "모든 리전에서 타임아웃",
}


async def test_incident_email_reaches_the_smtp_server(staff, smtp, run_worker):
    inbox, port = smtp
    await subscribe(staff, kind="email", email="oncall@example.com", allow_private=False)
    await run_worker(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_from="SLA Monitor <alerts@example.com>"
    )
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    await wait_until(lambda: _count(inbox))
    [(recipients, message)] = inbox.messages
    [row] = await delivery_rows(staff.conn)
    assert recipients == ["oncall@example.com"]
    assert (
        str(email.header.make_header(email.header.decode_header(message["Subject"])))
        == f"[SLA Monitor] [P1] Incident opened: {INCIDENT['title']}"
    )
    assert message["Message-ID"] == f"<{row['id']}@slamon>" and message["X-SLAMon-Event"] == "incident.created"
    text = message.get_payload(decode=True).decode(message.get_content_charset())
    assert INCIDENT["note"] in text and "Services: face-compare" in text
    await wait_until(lambda: _delivered(staff.conn))


async def _count(inbox):
    return len(inbox.messages) > 0


async def _delivered(conn):
    rows = await delivery_rows(conn)
    return rows and rows[0]["status"] == "delivered"


async def test_email_is_off_without_an_smtp_host(staff, run_worker):
    await subscribe(staff, kind="email", email="oncall@example.com", allow_private=False)
    await run_worker(smtp_host=None)
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))

    async def failed():
        rows = await delivery_rows(staff.conn)
        return rows if rows and rows[0]["status"] == "failed" else None

    [row] = await wait_until(failed)
    assert row["last_error"] == "email is off: SLAMON_SMTP_HOST is not set" and row["attempts"] == 1


async def test_a_forecast_alert_email_says_why(staff, smtp, run_worker):
    """An SLO forecast alert (sql/310), opened by the forecast cron, announced by the scan."""

    inbox, port = smtp
    await subscribe(staff, kind="email", email="oncall@example.com", allow_private=False)
    ctx = await run_worker(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_from="SLA Monitor <alerts@example.com>"
    )
    now = datetime.now(timezone.utc)
    await staff.conn.execute(
        """INSERT INTO slo_forecast_alerts (service_id, slo, period, opened_at, reasons, exhausts_at, miss_probability)
           VALUES ('face-compare', 'availability', '2026-12', $1, $2, $3, 0.83)""",
        now - timedelta(seconds=30),
        ["exhaustion_recent_burn", "miss_probability"],
        now + timedelta(hours=20),
    )
    await outbox.scan(staff.conn, now, 86_400)
    await notify.notify_tick(ctx)
    await wait_until(lambda: _count(inbox))
    [(recipients, message)] = inbox.messages
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert subject == "[SLA Monitor] SLO forecast: Face Compare availability at risk"
    assert message["X-SLAMon-Event"] == "slo_forecast.opened"
    text = message.get_payload(decode=True).decode(message.get_content_charset())
    assert "the error budget runs out within the horizon at the last 7 days' burn" in text
    assert "the month is likely to miss its target" in text and "Miss probability: 83 %" in text
