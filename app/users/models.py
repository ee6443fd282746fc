"""User accounts: the API contract."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.auth.permissions import Role

USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$"
EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,189}$"


def _password_fits_bcrypt(value: str | None) -> str | None:
    if value is not None and len(value.encode()) > 72:
        raise ValueError("password longer than 72 bytes (UTF-8)")
    return value


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME)
    email: str | None = Field(None, max_length=254, pattern=EMAIL)
    role: Role
    password: str = Field(min_length=8, max_length=72)
    fits_bcrypt = field_validator("password")(_password_fits_bcrypt)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str | None = Field(None, max_length=254, pattern=EMAIL)
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=72)
    fits_bcrypt = field_validator("password")(_password_fits_bcrypt)
