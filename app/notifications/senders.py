"""Sending one delivery attempt: an HTTP POST to a webhook (SSRF-guarded on the address actually
connected to, redirects not followed, response read up to a cap, one hard timeout) or an email
through the configured SMTP server. Never raises for a failing receiver: returns an Outcome."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
import aiosmtplib

from app.net import ssrf
from app.net.http import GuardedSessions
from app.notifications import messages, signing

if TYPE_CHECKING:
    from app.config import Settings

RESPONSE_CAP_BYTES = 4096
USER_AGENT = "slamon-webhooks/0.1"


@dataclass
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None
    retry_after_s: float | None = None
    permanent: bool = False  # retrying cannot help (refused address, nothing configured to send with)


def _text(raw: bytes) -> str:
    # PostgreSQL text holds no NUL; the log keeps what a person can read.
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the back-off schedule applies


class Senders:
    """The worker's clients: SSRF-guarded HTTP sessions (app/net/http.py, one per policy), and SMTP settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = GuardedSessions(USER_AGENT)

    async def close(self) -> None:
        await self.http.close()

    async def post(self, url: str, body: bytes, headers: dict[str, str], allow_private: bool) -> Outcome:
        """POST `body` once; 2xx is success, anything else (a redirect included) a failure."""
        blocked = ssrf.check_host(urlsplit(url).hostname or "", allow_private)
        if blocked:
            return Outcome(False, error=blocked, permanent=True)
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_s):
                async with self.http.session(allow_private).post(
                    url, data=body, headers={"Content-Type": "application/json", **headers}, allow_redirects=False
                ) as response:
                    raw = await response.content.read(RESPONSE_CAP_BYTES)
                    status = response.status
                    retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            return Outcome(False, error=f"no answer within {self.settings.webhook_timeout_s:g} s")
        except (aiohttp.ClientConnectorError, ssrf.BlockedAddressError) as exc:
            cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
            if isinstance(cause, ssrf.BlockedAddressError):
                return Outcome(False, error=str(cause), permanent=True)
            return Outcome(False, error=f"connection failed: {cause}")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= status < 300:
            return Outcome(True, status, response_body=_text(raw))
        error = "redirects are not followed" if 300 <= status < 400 else f"HTTP {status}"
        return Outcome(False, status, error, _text(raw), retry_after)

    async def send_email(self, email: EmailMessage) -> Outcome:
        s = self.settings
        if not s.smtp_host:
            return Outcome(False, error="email is off: SLAMON_SMTP_HOST is not set", permanent=True)
        try:
            async with asyncio.timeout(s.webhook_timeout_s):
                await aiosmtplib.send(
                    email,
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


def web_request(claim, settings) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook, Slack or Teams delivery."""
    delivery_id = str(claim["id"])
    payload = claim["payload"]
    if claim["kind"] == "webhook":
        body = messages.webhook_body(
            delivery_id, claim["event_kind"], claim["event_key"], claim["occurred_at"], claim["services"], payload
        )
    else:
        message = messages.describe(claim["event_kind"], payload)
        body = messages.slack_body(message) if claim["kind"] == "slack" else messages.teams_body(message)
    raw = messages.encode(body)
    headers = {signing.DELIVERY_HEADER: delivery_id, signing.EVENT_HEADER: claim["event_kind"]}
    if claim["secret"]:
        headers[signing.SIGNATURE_HEADER] = signing.sign(claim["secret"], raw)
    return raw, headers
