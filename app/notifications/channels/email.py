"""Email: a plain-text message through the configured SMTP server (SLAMON_SMTP_*)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

import aiosmtplib

from app.notifications.channels.base import Channel, Delivery
from app.notifications.messages import Message
from app.notifications.senders import Outcome

if TYPE_CHECKING:
    from app.config import Settings
    from app.notifications.senders import Senders


def email_message(
    message: Message, *, sender: str, recipient: str, delivery_id: str, kind: str, occurred_at: datetime
) -> EmailMessage:
    """Plain-text email; Message-ID is derived from the delivery id, so a resent copy is the same message."""
    email = EmailMessage()
    email["Subject"] = " ".join(f"[SLA Monitor] {message.title}".split())  # one line, whatever the title held
    email["From"] = sender
    email["To"] = recipient
    email["Date"] = format_datetime(occurred_at)
    email["Message-ID"] = f"<{delivery_id}@slamon>"
    email["X-SLAMon-Delivery"] = delivery_id
    email["X-SLAMon-Event"] = kind
    lines = [message.title, ""]
    if message.text:
        lines += [message.text, ""]
    lines += [f"{name}: {value}" for name, value in message.facts]
    email.set_content("\n".join(lines) + "\n")
    return email


class Email(Channel[EmailMessage]):
    kind = "email"
    label = "email (SMTP)"
    address = "email"
    signs = False

    def render(self, delivery: Delivery, settings: Settings) -> EmailMessage:
        assert delivery.email is not None  # validate() keeps email set for this channel
        return email_message(
            delivery.message(),
            sender=settings.smtp_from,
            recipient=delivery.email,
            delivery_id=delivery.id,
            kind=delivery.event_kind,
            occurred_at=delivery.occurred_at,
        )

    async def send(self, rendered: EmailMessage, delivery: Delivery, senders: Senders) -> Outcome:
        s = senders.settings
        if not s.smtp_host:
            return Outcome(False, error="email is off: SLAMON_SMTP_HOST is not set", permanent=True)
        try:
            async with asyncio.timeout(s.webhook_timeout_s):
                await aiosmtplib.send(
                    rendered,
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
