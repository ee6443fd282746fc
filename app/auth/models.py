"""Login, refresh and the signed-in user as the API shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.auth.permissions import Role
from app.auth.policy import MAX_CHARS, MIN_CHARS, check_new_password
from app.contract import LegacyInput, Timestamp, WithLegacyKeys


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(LegacyInput):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutIn(LegacyInput):
    refresh_token: str | None = Field(None, max_length=200)


class PasswordChangeIn(LegacyInput):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=MIN_CHARS, max_length=MAX_CHARS, description="not a common password")
    policy = field_validator("new_password")(check_new_password)


# Answers: camelCase, with the old snake_case keys beside them for one release (docs/api.md#casing).

USER_EXAMPLE: dict[str, Any] = {
    "id": "0b7c6a9e-6f1d-4c1e-9a57-3f0e2b1d5c44",
    "username": "alice",
    "email": "alice@example.com",
    "role": "admin",
    "isActive": True,
    "createdAt": "2026-11-02T08:00:00Z",
    "lastLoginAt": "2026-12-01T09:30:00Z",
    "is_active": True,
    "created_at": "2026-11-02T08:00:00Z",
    "last_login_at": "2026-12-01T09:30:00Z",
}


class UserRead(WithLegacyKeys):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE]})
    id: str
    username: str
    email: str | None
    role: Role
    is_active: bool
    created_at: Timestamp
    last_login_at: Timestamp | None


class TokenRefresh(WithLegacyKeys):
    access_token: str = Field(description="JWT, valid 24 h; send as 'Authorization: Bearer <token>'")
    refresh_token: str = Field(description="works once, for 7 days")
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds")
    refresh_expires_in: int = Field(description="seconds")


class TokenPair(TokenRefresh):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accessToken": "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
                    "refreshToken": "r1.3q2-7Zr0aXk9",
                    "tokenType": "bearer",
                    "expiresIn": 86400,
                    "refreshExpiresIn": 604800,
                    "user": USER_EXAMPLE,
                    "access_token": "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
                    "refresh_token": "r1.3q2-7Zr0aXk9",
                    "token_type": "bearer",
                    "expires_in": 86400,
                    "refresh_expires_in": 604800,
                }
            ]
        }
    )
    user: UserRead


class MeRead(WithLegacyKeys):
    user: UserRead
    permissions: list[str]
    session_id: str
