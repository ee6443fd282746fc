"""Statement delivery against a real SMTP server (aiosmtpd) and a real webhook receiver on loopback:
each contact gets one email with the statement's PDF attached and a signed link that opens it, the
webhook the signed JSON; every delivery is in the delivery log; a month goes out once unless asked
again; a dry run writes nothing. The schedule's due month, across zones and DST."""

import email
import email.policy
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.customers import delivery, schedule
from app.notifications import delivery as outbox
from app.notifications.senders import Senders
from app.periods import month
from app.reports import pdf
from app.reports import service as reports
from tests.app.conftest import PASSWORD, create_user, unique
from tests.app.customers.test_credits import NOW, seed
from tests.app.customers.test_statements import MARCH
from tests.app.notifications.conftest import make_receiver, smtp  # noqa: F401  (fixtures)

CONTACTS = ["billing@acme.example", "ops@acme.example"]


@pytest.fixture
async def closed_month(customers_db):
    conn = customers_db
    await seed(conn, "UTC", "EUR", "12345.67")
    await conn.execute("UPDATE customers SET contacts = $1 WHERE id = 'acme'", CONTACTS)
    await reports.close_month(conn, MARCH, NOW, "UTC")
    yield conn
    await pdf.shutdown()


async def _send_all(pool, settings, planned) -> None:
    senders = Senders(settings)
    try:
        for item in planned:
            for delivery_id in item.delivery_ids:
                assert (await outbox.deliver(pool, senders, settings, delivery_id)).status == "delivered"
    finally:
        await senders.close()


async def test_statement_goes_to_every_contact_and_the_webhook_once(
    closed_month,
    pool,
    settings,
    smtp,  # noqa: F811
    make_receiver,  # noqa: F811
    make_app,
):
    inbox, port = smtp
    hook = await make_receiver()
    settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "statement_webhook_url": hook.url,
            "statement_webhook_secret": "hook-secret",
            "statement_webhook_allow_private": True,
            "statement_delivery_language": "en",
        }
    )
    planned = await delivery.deliver_month(pool, settings, MARCH, NOW, requested_by="test")
    assert [(p.customer_id, p.revision, len(p.delivery_ids)) for p in planned] == [("acme", 1, 3)]
    await _send_all(pool, settings, planned)

    assert sorted(rcpt[0] for rcpt, _ in inbox.messages) == CONTACTS
    messages = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for _, m in inbox.messages]
    for message in messages:
        assert message["Subject"] == "[SLA Monitor] SLA statement 2025-03: ACME"
        attachments = [part for part in message.iter_attachments()]
        assert [a.get_content_type() for a in attachments] == ["application/pdf"]
        assert attachments[0].get_filename() == "statement-acme-2025-03-r1.pdf"
        assert attachments[0].get_payload(decode=True).startswith(b"%PDF-")
    text = messages[0].get_body(("plain",)).get_content()
    assert "2025-03" in text and "2469.13 EUR" in text
    link = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Statement: "))

    assert len(hook.requests) == 1
    data = hook.requests[0].json["data"]["statement"]
    assert data["customerId"] == "acme" and data["creditAmount"] == "2469.13" and data["url"] == link
    assert hook.requests[0].json["event"] == "statement.ready"

    # The link opens that revision without an account; a tampered one is a plain 404.
    _, client = make_app()
    path = link.removeprefix(settings.public_url("").rstrip("/"))
    r = await client().get(path + "?lang=en")
    assert r.status_code == 200 and "Monthly service statement" in r.text and "2,469.13" in r.text
    r = await client().get(path[:-3] + "AAA")
    assert r.status_code == 404 and r.json()["message"] == "this statement link is not valid"

    # The delivery log has each delivery with its outcome.
    rows = await closed_month.fetch(
        "SELECT d.status, d.attempts, a.finished_at IS NOT NULL AS finished FROM notification_deliveries d "
        "JOIN notification_attempts a ON a.delivery_id = d.id WHERE d.event_key = 'statement:acme:2025-03'"
    )
    assert len(rows) == 3 and all(r["status"] == "delivered" and r["attempts"] == 1 and r["finished"] for r in rows)

    # The statement's delivery history, from the delivery log.
    staff_client = client()
    r = await staff_client.get("/api/customers/acme/statements/2025-03/deliveries")
    assert r.status_code == 401
    boss = unique("boss")
    await create_user(closed_month, boss, "admin")
    login = await staff_client.post("/api/auth/login", json={"username": boss, "password": PASSWORD})
    admin = {"Authorization": f"Bearer {login.json()['accessToken']}"}
    r = await staff_client.get("/api/customers/acme/statements/2025-03/deliveries", headers=admin)
    assert r.status_code == 200, r.text
    (run,) = r.json()["deliveries"]
    assert (run["eventKey"], run["revision"], run["requestedBy"]) == ("statement:acme:2025-03", 1, "test")
    assert sorted((m["channel"], m["receiver"], m["status"], m["attempts"]) for m in run["messages"]) == [
        ("email", CONTACTS[0], "delivered", 1),
        ("email", CONTACTS[1], "delivered", 1),
        ("webhook", hook.url, "delivered", 1),
    ]

    # Never twice unless asked.
    again = await delivery.deliver_month(pool, settings, MARCH, NOW)
    assert again[0].delivery_ids == [] and again[0].skipped.startswith("delivered already")
    assert len(inbox.messages) == 2
    forced = await delivery.deliver_month(pool, settings, MARCH, NOW, again=True)
    assert forced[0].event_key == "statement:acme:2025-03:again:1" and len(forced[0].delivery_ids) == 3


async def test_dry_run_writes_nothing_and_an_open_month_is_not_sent(closed_month, pool, settings):
    planned = await delivery.deliver_month(pool, settings, MARCH, NOW, dry_run=True)
    assert planned[0].event_key == "statement:acme:2025-03"
    assert planned[0].receivers == [f"email {c}" for c in CONTACTS]
    assert await closed_month.fetchval("SELECT count(*) FROM notification_events") == 0
    april = month(2025, 4, ZoneInfo("UTC"))
    planned = await delivery.deliver_month(pool, settings, april, NOW + timedelta(days=30))
    assert planned[0].event_key is None and "not closed" in planned[0].skipped
    assert await closed_month.fetchval("SELECT count(*) FROM statement_deliveries") == 0


UTC, SEOUL, NEW_YORK = ZoneInfo("UTC"), ZoneInfo("Asia/Seoul"), ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("rule", "month_first", "at", "zone", "expected"),
    [
        # the first Friday of December 2026 is the 4th; 09:00 in Seoul is 00:00 UTC
        ("first-friday", date(2026, 11, 1), time(9), SEOUL, datetime(2026, 12, 4, 0, tzinfo=timezone.utc)),
        # a month starting on a Friday: that very day
        ("first-friday", date(2025, 7, 1), time(9), UTC, datetime(2025, 8, 1, 9, tzinfo=timezone.utc)),
        ("first-monday", date(2025, 2, 1), time(8, 30), NEW_YORK, datetime(2025, 3, 3, 13, 30, tzinfo=timezone.utc)),
        # after the spring-forward, New York is UTC-4
        ("10", date(2025, 2, 1), time(8, 30), NEW_YORK, datetime(2025, 3, 10, 12, 30, tzinfo=timezone.utc)),
    ],
)
def test_delivery_moment(rule, month_first, at, zone, expected):
    assert schedule.moment(month_first, schedule.parse_day_rule(rule), at, zone) == expected


def test_due_month_is_the_latest_passed_within_the_catch_up():
    rule, week = schedule.parse_day_rule("first-friday"), timedelta(days=7)
    due_at = datetime(2026, 12, 4, 9, tzinfo=timezone.utc)
    assert schedule.due_month(due_at - timedelta(seconds=1), rule, time(9), UTC, week) is None
    assert schedule.due_month(due_at, rule, time(9), UTC, week) == date(2026, 11, 1)
    assert schedule.due_month(due_at + week, rule, time(9), UTC, week) == date(2026, 11, 1)
    assert schedule.due_month(due_at + week + timedelta(seconds=1), rule, time(9), UTC, week) is None
    # 1 January before the first Friday: November's moment is a month old, December's not yet there
    assert schedule.due_month(datetime(2027, 1, 1, tzinfo=timezone.utc), rule, time(9), UTC, week) is None
    assert schedule.due_month(due_at, None, time(9), UTC, week) is None


@pytest.mark.parametrize("text", ["friday", "first-fri", "29", "0", "second-friday", ""])
def test_bad_day_rules_are_refused_naming_the_forms(text):
    with pytest.raises(ValueError, match="first-<weekday>"):
        schedule.parse_day_rule(text)


async def test_the_cli_delivers_by_hand_once_unless_asked_again(
    closed_month,
    database_url,
    tmp_path,
    monkeypatch,
    smtp,  # noqa: F811
):
    import asyncio

    from tests.app.reports.test_snapshots import slamon

    inbox, port = smtp
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "none"}.items():
        monkeypatch.setenv(f"SLAMON_{name}", value)
    run = lambda *a: asyncio.to_thread(slamon, database_url, *a, tmp_path=tmp_path)  # noqa: E731

    dry = await run("report", "deliver", "--month", "2025-03", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "acme 2025-03 revision 1: would send to email billing@acme.example, email ops@acme.example" in dry.stdout
    assert inbox.messages == []

    sent = await run("report", "deliver", "--month", "2025-03", "--customer", "acme")
    assert sent.returncode == 0, sent.stderr
    assert "acme 2025-03 revision 1: email billing@acme.example: delivered" in sent.stdout
    assert len(inbox.messages) == 2

    again = await run("report", "deliver", "--month", "2025-03")
    assert again.returncode == 0 and "not sent: delivered already" in again.stdout
    forced = await run("report", "deliver", "--month", "2025-03", "--again")
    assert forced.returncode == 0 and len(inbox.messages) == 4

    unknown = await run("report", "deliver", "--month", "2025-03", "--customer", "nobody")
    assert unknown.returncode == 2 and "nobody" in unknown.stderr
    running = await run("report", "deliver", "--month", "2099-01")
    assert running.returncode == 2 and "--month" in running.stderr
