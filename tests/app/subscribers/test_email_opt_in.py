"""Double opt-in by email against a real SMTP server (aiosmtpd) on loopback: the confirmation is the
only message before the owner confirms, its link works once, and every later message carries the
RFC 8058 one-click unsubscribe, which works without a session."""

from datetime import datetime, timedelta, timezone
from email.header import decode_header, make_header
from urllib.parse import urlsplit

from app.subscribers import tokens
from tests.app.notifications.conftest import wait_until
from tests.app.subscribers.conftest import link_token

READER = "reader@example.com"


def text_of(message) -> str:
    return message.get_payload(decode=True).decode(message.get_content_charset())


async def test_double_opt_in_then_one_click_unsubscribe(public, smtp, run_worker):
    inbox, port = smtp
    await run_worker(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none")

    async def mails(n):
        async def arrived():
            return len(inbox.messages) >= n

        await wait_until(arrived)

    r = await public.subscribe(kind="email", email=READER, services=["face-compare"])
    assert r.status_code == 202 and r.json()["accepted"] is True
    await mails(1)
    [(recipients, confirmation)] = inbox.messages
    assert (
        recipients == [READER]
        and confirmation["Subject"] == "[SLA Monitor] Confirm your subscription to status updates"
    )
    token = link_token(text_of(confirmation), "/subscriptions/confirm")

    # Before confirmation: an incident on the chosen service sends nothing to the address.
    await public.incident()
    await public.dispatched()
    assert len(inbox.messages) == 1
    kinds = await public.conn.fetch(
        "SELECT e.kind FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id"
    )
    assert [k["kind"] for k in kinds] == ["subscription.confirm"]

    # Opening the link shows a page and changes nothing (mail scanners open links); the button confirms.
    page = await public.client().get(f"/subscriptions/confirm?token={token}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert not await public.conn.fetchval("SELECT active FROM subscriptions WHERE public")
    first = await public.client().post("/api/public/subscriptions/confirm", json={"token": token})
    assert first.status_code == 200, first.text
    assert first.json()["subscription"] | {"confirmedAt": None} == {
        "kind": "email",
        "receiver": "r…@example.com",
        "services": ["face-compare"],
        "status": "confirmed",
        "confirmedAt": None,
    }
    again = await public.client().post("/api/public/subscriptions/confirm", json={"token": token})
    assert again.status_code == 410 and again.json()["error"] == "gone"

    # Confirmed: news of the chosen service arrives, with the one-click unsubscribe headers.
    await public.incident(title="두 번째 장애")
    await public.incident(title="other service", affected_services=["id-liveness"])
    await mails(2)
    await public.dispatched()
    [_, (_, news)] = inbox.messages
    assert "두 번째 장애" in str(make_header(decode_header(news["Subject"])))
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = news["List-Unsubscribe"].strip("<>")
    assert urlsplit(one_click).path == "/api/public/subscriptions/unsubscribe"
    link_token(text_of(news), "/subscriptions/manage")  # the manage link is in the text too

    # One click: a POST of the header's URL as is, form-encoded as RFC 8058 says, no session.
    url = urlsplit(one_click)
    r = await public.client("203.0.113.9").post(
        f"{url.path}?{url.query}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and r.json() == {"unsubscribed": True}
    await public.incident(title="after unsubscribing")
    await public.dispatched()
    assert len(inbox.messages) == 2
    manage = link_token(text_of(news), "/subscriptions/manage")
    r = await public.client().get("/api/public/subscriptions/manage", params={"token": manage})
    assert r.json()["subscription"]["status"] == "unsubscribed"


async def test_an_expired_or_forged_confirmation_link_confirms_nothing(public):
    await public.subscribe(kind="email", email=READER)
    row = await public.conn.fetchrow("SELECT id, confirm_nonce FROM subscriptions WHERE public")
    expired = tokens.issue(
        "test-secret", "confirm", row["id"], row["confirm_nonce"], datetime.now(timezone.utc) - timedelta(seconds=5)
    )
    r = await public.client().post("/api/public/subscriptions/confirm", json={"token": expired})
    assert r.status_code == 410 and "expired" in r.json()["message"]
    forged = tokens.issue(
        "another-secret", "confirm", row["id"], row["confirm_nonce"], datetime.now(timezone.utc) + timedelta(hours=1)
    )
    r = await public.client().post("/api/public/subscriptions/confirm", json={"token": forged})
    assert r.status_code == 410
    assert not await public.conn.fetchval("SELECT active FROM subscriptions WHERE public")
