"""Health answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Healthy(BaseModel):
    status: Literal["ok"]


class Ready(Healthy):
    database: Literal["ok"]
    redis: Literal["ok"]
