"""Email: a plain-text message through the configured SMTP server (SLAMON_SMTP_*)."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timezone
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING

import aiosmtplib

from app.escalation import links as ack_links
from app.notifications.channels.base import Channel, Delivery
from app.notifications.messages import Message
from app.notifications.senders import Outcome
from app.subscribers.tokens import Links

if TYPE_CHECKING:
    from app.config import Settings
    from app.notifications.senders import Senders


# How a message is written on the wire: SMTP's CRLF, lines up to RFC 5322's 998 characters, so that a
# long URL header (List-Unsubscribe) stays as it is instead of turning into encoded words that mail
# clients do not read as a URL (RFC 8058). aiosmtplib would flatten with 78, so `send` flattens itself.
WIRE = policy.SMTP.clone(max_line_length=998)


def wire_bytes(message: EmailMessage) -> bytes:
    out = io.BytesIO()
    BytesGenerator(out, policy=WIRE).flatten(message)
    return out.getvalue()


def email_message(
    message: Message,
    *,
    sender: str,
    recipient: str,
    delivery_id: str,
    kind: str,
    occurred_at: datetime,
    links: Links | None = None,
) -> EmailMessage:
    """Plain-text email; Message-ID is derived from the delivery id, so a resent copy is the same message."""
    email = EmailMessage(policy=WIRE)
    email["Subject"] = " ".join(f"[SLA Monitor] {message.title}".split())  # one line, whatever the title held
    email["From"] = sender
    email["To"] = recipient
    email["Date"] = format_datetime(occurred_at)
    email["Message-ID"] = f"<{delivery_id}@slamon>"
    email["X-SLAMon-Delivery"] = delivery_id
    email["X-SLAMon-Event"] = kind
    if links is not None:  # a public subscriber: one-click unsubscribe (RFC 8058) from every message
        email["List-Unsubscribe"] = f"<{links.one_click}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    lines = [message.title, ""]
    if message.text:
        lines += [message.text, ""]
    lines += [f"{name}: {value}" for name, value in message.facts]
    email.set_content("\n".join(lines) + "\n")
    return email


def ack_url(delivery: Delivery, recipient: str, settings: Settings) -> str:
    """The signed acknowledgement link of a page: this incident and level, this recipient, for a while."""
    incident, escalation = delivery.payload["incident"], delivery.payload["escalation"]
    link = ack_links.AckLink(incident["id"], escalation["level"], recipient)
    token = ack_links.issue(
        settings.resolved_secret_key(), link, datetime.now(timezone.utc), settings.escalation_ack_link_hours
    )
    return ack_links.url(settings.public_base_url, token)


class Email(Channel[EmailMessage]):
    kind = "email"
    label = "email (SMTP)"
    address = "email"
    signs = False

    def render(self, delivery: Delivery, settings: Settings) -> EmailMessage:
        assert delivery.email is not None  # validate() keeps email set for this channel
        message = delivery.message()
        if delivery.event_kind == "escalation.paged":  # acknowledge from the message (app/escalation/links.py)
            message.facts.append(("Acknowledge", ack_url(delivery, delivery.email, settings)))
        return email_message(
            message,
            sender=settings.smtp_from,
            recipient=delivery.email,
            delivery_id=delivery.id,
            kind=delivery.event_kind,
            occurred_at=delivery.occurred_at,
            links=delivery.links,
        )

    async def send(self, rendered: EmailMessage, delivery: Delivery, senders: Senders) -> Outcome:
        s = senders.settings
        if not s.smtp_host:
            return Outcome(False, error="email is off: SLAMON_SMTP_HOST is not set", permanent=True)
        try:
            async with asyncio.timeout(s.webhook_timeout_s):
                await aiosmtplib.send(
                    wire_bytes(rendered),
                    sender=parseaddr(rendered["From"])[1],
                    recipients=[rendered["To"]],
                    hostname=s.smtp_host,
                    port=s.smtp_port,
                    username=s.smtp_username,
                    password=s.smtp_password,
                    use_tls=s.smtp_security == "tls",
                    start_tls=s.smtp_security == "starttls",
                    timeout=s.webhook_timeout_s,
                )
        except TimeoutError:
            return Outcome(False, error=f"SMTP server gave no answer within {s.webhook_timeout_s:g} s")
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return Outcome(False, error=f"recipient refused: {exc}"[:500], permanent=True)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Outcome(False, error=f"SMTP: {exc}"[:500])
        return Outcome(True)


CHANNEL = Email()
