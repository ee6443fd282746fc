"""What channels send with (app/notifications/channels/): the worker's settings and one HTTP POST,
SSRF-guarded on the address actually connected to (app/net), redirects not followed, the response
read up to a cap, one hard timeout. Never raises for a failing receiver: returns an Outcome."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp

from app.net import ssrf
from app.net.http import GuardedSessions

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
    """The worker's clients, shared by every channel: SSRF-guarded HTTP sessions (app/net/http.py, one
    per policy) and the settings (SMTP server, timeouts)."""

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
