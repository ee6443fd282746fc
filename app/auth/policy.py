"""What a new password must be: at least 12 characters and not one of the common passwords that
are guessed first (a list shipped in app/auth/data, see its README). The API and the CLI both apply it
through the pydantic models."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

MIN_CHARS = 12
MAX_CHARS = 256  # pre-hashed before bcrypt (app.auth.passwords), so any length fits; this bounds the work
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def check_new_password(password: str) -> str:
    """The password, or ValueError saying which rule it breaks (pydantic turns it into a 422)."""
    if len(password) < MIN_CHARS:
        raise ValueError(f"password must have at least {MIN_CHARS} characters")
    if len(password) > MAX_CHARS:
        raise ValueError(f"password must have at most {MAX_CHARS} characters")
    if password.strip().lower() in common_passwords():
        raise ValueError("password is one of the most common passwords; choose another")
    return password
