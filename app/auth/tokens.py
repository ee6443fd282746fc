"""Access JWTs (HS256 only; alg=none and every other algorithm refused) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "slamon"
AUDIENCE = "slamon-api"
ACCESS_TTL = timedelta(hours=24)
REFRESH_TTL = timedelta(days=7)
IDLE_TIMEOUT = timedelta(hours=2)
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "sub", "typ", "sid", "tv", "role", "iss", "aud"]


class TokenError(Exception):
    """The token is not a valid access token; the message is safe to show."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    role: str
    session_id: str
    token_version: int


def signing_key(secret: str) -> bytes:
    """A key for access tokens only, derived from the app secret (which also derives ingest keys)."""
    return hmac.new(secret.encode(), b"slamon access tokens v1", hashlib.sha256).digest()


def issue_access(secret: str, user_id: str, role: str, session_id: str, token_version: int, now: datetime) -> str:
    claims = {
        "sub": user_id,
        "role": role,
        "typ": "access",
        "sid": session_id,
        "tv": token_version,
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TTL,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, signing_key(secret), algorithm=ALGORITHM)


def decode_access(secret: str, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            signing_key(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("token not yet valid") from None
    except jwt.PyJWTError:
        raise TokenError("invalid token") from None
    if claims.get("typ") != "access":
        raise TokenError("not an access token")
    if not isinstance(claims.get("tv"), int) or not isinstance(claims.get("sid"), str):
        raise TokenError("invalid token")
    return AccessClaims(str(claims["sub"]), str(claims["role"]), claims["sid"], claims["tv"])


def new_refresh() -> tuple[str, bytes]:
    """A fresh opaque refresh token and the sha256 that is stored."""
    token = "rt_" + secrets.token_urlsafe(32)
    return token, hash_refresh(token)


def hash_refresh(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
