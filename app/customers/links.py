"""The link a delivered statement carries (docs/api.md, Customers): a JWT (HS256, PyJWT) under a key
derived from the app secret for these links only, naming the customer, the month and the revision
that was sent, so that the customer's contacts read exactly that document without an account."""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from app.signed_links import Kind

STATEMENT_LINKS = Kind("slamon-statement", b"slamon statement links v1")


class LinkError(Exception):
    """Not a valid statement link; the message is safe to show."""


@dataclass(frozen=True)
class StatementLink:
    customer_id: str
    month: str  # YYYY-MM
    revision: int


def issue(secret: str, link: StatementLink) -> str:
    return STATEMENT_LINKS.issue(secret, {"sub": link.customer_id, "m": link.month, "r": link.revision})


def read(secret: str, token: str) -> StatementLink:
    try:
        claims = STATEMENT_LINKS.claims(secret, token, ["sub", "m", "r"])
    except jwt.PyJWTError:
        raise LinkError("this statement link is not valid") from None
    customer, month, revision = claims["sub"], claims["m"], claims["r"]
    if not (isinstance(customer, str) and isinstance(month, str) and isinstance(revision, int)):
        raise LinkError("this statement link is not valid")
    return StatementLink(customer, month, revision)


def path(secret: str, link: StatementLink) -> str:
    """The public path of the statement's HTML (app/customers/views.py, public_router)."""
    return f"/api/public/statements/{issue(secret, link)}"
