"""The acknowledgement link of a page's email: a JWT (HS256, PyJWT) under a key derived from the app
secret for these links only (so it never passes as an access token or a subscriber link), naming one
incident and the level paged, the recipient, and an expiry (SLAMON_ESCALATION_ACK_LINK_HOURS).
Opening it shows a confirm page; only its POST acknowledges (app/escalation/pages.py), so a mail
scanner fetching every link acknowledges nothing."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import jwt

ALGORITHM = "HS256"
ISSUER = "slamon"
AUDIENCE = "slamon-escalation-ack"
PATH = "escalation/acknowledge"


class LinkError(Exception):
    """The link is not valid (or expired); the message is safe to show."""


@dataclass(frozen=True)
class AckLink:
    incident_id: str
    level: int
    recipient: str


def signing_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"slamon escalation ack links v1", hashlib.sha256).digest()


def issue(secret: str, link: AckLink, now: datetime, valid_hours: int) -> str:
    claims = {
        "typ": "ack",
        "sub": link.incident_id,
        "lvl": link.level,
        "to": link.recipient,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=valid_hours),
    }
    return jwt.encode(claims, signing_key(secret), algorithm=ALGORITHM)


def read(secret: str, token: str) -> AckLink:
    """The link's claims, when it is a valid, unexpired acknowledgement link."""
    try:
        claims = jwt.decode(
            token,
            signing_key(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["typ", "sub", "lvl", "to", "exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise LinkError("this acknowledgement link has expired: acknowledge in the console") from None
    except jwt.PyJWTError:
        raise LinkError("this acknowledgement link is not valid") from None
    valid = (
        claims["typ"] == "ack"
        and isinstance(claims["sub"], str)
        and isinstance(claims["lvl"], int)
        and isinstance(claims["to"], str)
    )
    if not valid:
        raise LinkError("this acknowledgement link is not valid")
    return AckLink(claims["sub"], claims["lvl"], claims["to"])


def url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/{PATH}?token={quote(token, safe='')}"
