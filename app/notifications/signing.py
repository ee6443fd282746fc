"""Webhook signatures, Stripe-style: `X-SLAMon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" with the subscription's secret>`. Receivers recompute it over the raw body, compare
in constant time and refuse timestamps too far from their clock (replays)."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-SLAMon-Signature"
DELIVERY_HEADER = "X-SLAMon-Delivery"
EVENT_HEADER = "X-SLAMon-Event"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body`, signed now (or at `timestamp`)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None
) -> bool:
    """True when `header` signs `body` with `secret` within `tolerance_s` of now."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), parts.get("v1", ""))
