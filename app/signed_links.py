"""Links that are their own credential, sent in messages to people without an account or a session: a
subscriber's confirm / manage / unsubscribe links (app/subscribers/tokens.py), a delivered statement's
link (app/customers/links.py), a page's acknowledgement link (app/escalation/links.py).

Each is a JWT (HS256, PyJWT) signed with a key derived from the app secret for its kind alone and
carrying its kind's audience, so that no kind of link passes as another, nor as an access token
(app/auth/tokens.py signs those with a key of their own)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "slamon"


@dataclass(frozen=True)
class Kind:
    audience: str  # the JWT's `aud`
    key_label: bytes  # what the kind's key is derived for: a new label invalidates every link sent

    def key(self, secret: str) -> bytes:
        return hmac.new(secret.encode(), self.key_label, hashlib.sha256).digest()

    def issue(self, secret: str, claims: Mapping[str, object]) -> str:
        return jwt.encode({**claims, "iss": ISSUER, "aud": self.audience}, self.key(secret), algorithm=ALGORITHM)

    def claims(self, secret: str, token: str, required: Sequence[str]) -> dict[str, Any]:
        """The token's claims when it is a valid link of this kind holding every `required` claim;
        else PyJWT's error (jwt.ExpiredSignatureError for an expired one, jwt.PyJWTError otherwise)."""
        return jwt.decode(
            token,
            self.key(secret),
            algorithms=[ALGORITHM],
            audience=self.audience,
            issuer=ISSUER,
            options={"require": [*required, "iss", "aud"]},
        )
