"""The signed links of public subscriptions: JWTs (HS256, PyJWT) under a key derived from the app
secret for these links only, so they can never pass as access tokens (app/auth/tokens.py) or each
other. A link names its purpose, the subscription and a nonce stored with it:

- `confirm`: the open confirmation (the row's confirm_nonce, cleared when used: it works once) and
  an expiry (SLAMON_SUBSCRIBE_CONFIRM_HOURS);
- `manage` and `unsubscribe`: the row's link_nonce, no expiry (a link in an old message still
  unsubscribes). docs/api.md, Public subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import quote

import jwt

from app.signed_links import Kind

SUBSCRIBER_LINKS = Kind("slamon-subscriber", b"slamon subscriber links v1")
Purpose = Literal["confirm", "manage", "unsubscribe"]


class LinkError(Exception):
    """The link is not valid for this purpose; the message is safe to show."""


@dataclass(frozen=True)
class Link:
    purpose: Purpose
    subscription_id: int
    nonce: str


def issue(secret: str, purpose: Purpose, subscription_id: int, nonce: str, expires_at: datetime | None = None) -> str:
    claims: dict[str, object] = {
        "typ": purpose,
        "sub": str(subscription_id),
        "n": nonce,
    }
    if expires_at is not None:
        claims["exp"] = expires_at
    return SUBSCRIBER_LINKS.issue(secret, claims)


def read(secret: str, token: str, purpose: Purpose) -> Link:
    """The link's claims, when it is a valid, unexpired link of this purpose."""
    required = ["typ", "sub", "n"] + (["exp"] if purpose == "confirm" else [])
    try:
        claims = SUBSCRIBER_LINKS.claims(secret, token, required)
    except jwt.ExpiredSignatureError:
        raise LinkError("this link has expired: subscribe again to get a new one") from None
    except jwt.PyJWTError:
        raise LinkError("this link is not valid") from None
    if claims["typ"] != purpose or not str(claims["sub"]).isdigit() or not isinstance(claims["n"], str):
        raise LinkError("this link is not valid")
    return Link(purpose, int(claims["sub"]), claims["n"])


@dataclass(frozen=True)
class Links:
    """The links every message to a public subscriber carries: the manage page, the unsubscribe page
    (one button: what a chat message or the email's text links to) and the one-click endpoint of the
    email's List-Unsubscribe header (RFC 8058: a mail client POSTs to it)."""

    manage: str
    unsubscribe: str
    one_click: str


def page_url(public_url: str, path: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/{path.lstrip('/')}?token={quote(token, safe='')}"


def links(secret: str, public_url: str, subscription_id: int, link_nonce: str) -> Links:
    """The links of one subscriber, signed now."""
    unsubscribe = issue(secret, "unsubscribe", subscription_id, link_nonce)
    return Links(
        manage=page_url(public_url, "subscriptions/manage", issue(secret, "manage", subscription_id, link_nonce)),
        unsubscribe=page_url(public_url, "subscriptions/unsubscribe", unsubscribe),
        one_click=page_url(public_url, "api/public/subscriptions/unsubscribe", unsubscribe),
    )
