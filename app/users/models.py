"""User accounts: the API contract."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.auth.models import UserRead
from app.auth.permissions import Role
from app.auth.policy import MAX_CHARS, MIN_CHARS, check_new_password
from app.contract import LegacyInput, Pagination, WithLegacyKeys

USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$"
EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,189}$"


def _password_policy(value: str | None) -> str | None:
    return None if value is None else check_new_password(value)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME)
    email: str | None = Field(None, max_length=254, pattern=EMAIL)
    role: Role
    password: str = Field(min_length=MIN_CHARS, max_length=MAX_CHARS, description="not a common password")
    policy = field_validator("password")(_password_policy)


class UserUpdate(LegacyInput):
    email: str | None = Field(None, max_length=254, pattern=EMAIL)
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(None, min_length=MIN_CHARS, max_length=MAX_CHARS, description="not a common password")
    policy = field_validator("password")(_password_policy)


class UserOne(WithLegacyKeys):
    user: UserRead


class UserPage(WithLegacyKeys):
    users: list[UserRead]
    pagination: Pagination
