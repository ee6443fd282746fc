"""The link a delivered statement carries (docs/api.md, Customers): a JWT (HS256, PyJWT) under a key
derived from the app secret for these links only, naming the customer, the month and the revision
that was sent, so that the customer's contacts read exactly that document without an account."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ISSUER = "slamon"
AUDIENCE = "slamon-statement"


class LinkError(Exception):
    """Not a valid statement link; the message is safe to show."""


@dataclass(frozen=True)
class StatementLink:
    customer_id: str
    month: str  # YYYY-MM
    revision: int


def signing_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"slamon statement links v1", hashlib.sha256).digest()


def issue(secret: str, link: StatementLink) -> str:
    claims = {"sub": link.customer_id, "m": link.month, "r": link.revision, "iss": ISSUER, "aud": AUDIENCE}
    return jwt.encode(claims, signing_key(secret), algorithm=ALGORITHM)


def read(secret: str, token: str) -> StatementLink:
    try:
        claims = jwt.decode(
            token,
            signing_key(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["sub", "m", "r", "iss", "aud"]},
        )
    except jwt.PyJWTError:
        raise LinkError("this statement link is not valid") from None
    customer, month, revision = claims["sub"], claims["m"], claims["r"]
    if not (isinstance(customer, str) and isinstance(month, str) and isinstance(revision, int)):
        raise LinkError("this statement link is not valid")
    return StatementLink(customer, month, revision)


def path(secret: str, link: StatementLink) -> str:
    """The public path of the statement's HTML (app/customers/views.py, public_router)."""
    return f"/api/public/statements/{issue(secret, link)}"
