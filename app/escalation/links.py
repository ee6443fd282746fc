"""The acknowledgement link of a page's email: a JWT (HS256, PyJWT) under a key derived from the app
secret for these links only (so it never passes as an access token or a subscriber link), naming one
incident and the level paged, the recipient, and an expiry (SLAMON_ESCALATION_ACK_LINK_HOURS).
Opening it shows a confirm page; only its POST acknowledges (app/escalation/pages.py), so a mail
scanner fetching every link acknowledges nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import jwt

from app.signed_links import Kind

ACK_LINKS = Kind("slamon-escalation-ack", b"slamon escalation ack links v1")
PATH = "escalation/acknowledge"


class LinkError(Exception):
    """The link is not valid (or expired); the message is safe to show."""


@dataclass(frozen=True)
class AckLink:
    incident_id: str
    level: int
    recipient: str


def issue(secret: str, link: AckLink, now: datetime, valid_hours: int) -> str:
    claims = {
        "typ": "ack",
        "sub": link.incident_id,
        "lvl": link.level,
        "to": link.recipient,
        "iat": now,
        "exp": now + timedelta(hours=valid_hours),
    }
    return ACK_LINKS.issue(secret, claims)


def read(secret: str, token: str) -> AckLink:
    """The link's claims, when it is a valid, unexpired acknowledgement link."""
    try:
        claims = ACK_LINKS.claims(secret, token, ["typ", "sub", "lvl", "to", "exp"])
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
