"""Failed-login throttling: exponential back-off per account+IP pair (capped at 15 min), a looser
per-account limit (so many IPs cannot guess one password, capped at 5 min so they cannot lock the
owner out for long) and a per-IP limit (one IP spraying many accounts)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from app.auth import queries
from app.auth.usernames import username_key
from app.errors import ApiError

WINDOW = timedelta(hours=1)  # counters idle this long start over


@dataclass(frozen=True)
class Rule:
    threshold: int  # failures before the first lock
    base_s: int  # first lock; doubles with each further failure
    cap_s: int


RULES = {"pair": Rule(5, 30, 15 * 60), "account": Rule(20, 30, 5 * 60), "ip": Rule(50, 60, 15 * 60)}


def lock_seconds(rule: Rule, failures: int) -> int:
    if failures < rule.threshold:
        return 0
    doubled: int = rule.base_s * 2 ** min(failures - rule.threshold, 20)  # int ** int is Any to mypy
    return min(rule.cap_s, doubled)


def keys(username: str, ip: str) -> dict[str, str]:
    name = username_key(username)  # the key accounts are looked up by: one spelling, one lock
    return {"pair": f"pair:{name}|{ip}", "account": f"account:{name}", "ip": f"ip:{ip}"}


def too_many_attempts(wait_s: int) -> ApiError:
    return ApiError(
        429,
        "too_many_requests",
        f"too many failed attempts; try again in {wait_s} s",
        headers={"Retry-After": str(wait_s)},
    )


async def retry_after(conn: asyncpg.Connection, username: str, ip: str, now: datetime) -> int:
    """Seconds until a login may be tried again for this account from this IP (0: now)."""
    until = await conn.fetchval(queries.THROTTLE_LOCKED_UNTIL, list(keys(username, ip).values()), now)
    return 0 if until is None else max(1, math.ceil((until - now).total_seconds()))


async def record_failure(conn: asyncpg.Connection, username: str, ip: str, now: datetime) -> None:
    for kind, key in keys(username, ip).items():
        failures = await conn.fetchval(queries.THROTTLE_FAIL, key, now, WINDOW)
        seconds = lock_seconds(RULES[kind], failures)
        if seconds:
            await conn.execute(queries.THROTTLE_LOCK, key, now + timedelta(seconds=seconds))


async def record_success(conn: asyncpg.Connection, username: str, ip: str) -> None:
    k = keys(username, ip)
    await conn.execute(queries.THROTTLE_CLEAR, [k["pair"], k["account"]])
