"""bcrypt password hashes. bcrypt reads at most 72 bytes: longer passwords are refused, not truncated."""

from __future__ import annotations

import bcrypt

ROUNDS = 12  # ~0.25 s a hash; tests lower it
MAX_PASSWORD_BYTES = 72
_DUMMY_HASH: bytes | None = None


def hash_password(password: str) -> str:
    data = password.encode()
    if len(data) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password longer than {MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(data, bcrypt.gensalt(ROUNDS)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not the user exists (a dummy hash is checked for unknown users)."""
    global _DUMMY_HASH
    data = password.encode()
    if password_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = bcrypt.hashpw(b"dummy-password", bcrypt.gensalt(ROUNDS))
        bcrypt.checkpw(b"dummy-password", _DUMMY_HASH)
        return False
    if len(data) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(data, password_hash.encode())
    except ValueError:
        return False
