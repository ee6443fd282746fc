"""bcrypt password hashes, computed off the event loop in a bounded pool, with the same work for
every input: known or unknown user, short or long password.

New hashes are `sha256$<bcrypt>`: bcrypt over base64(HMAC-SHA256(key=bcrypt salt, password)), so any
length fits bcrypt's 72 bytes (and no NUL reaches it), and a leaked unsalted SHA-256 list cannot be
tried against the hashes. Hashes written before are plain bcrypt; they keep working, and a password
they cannot hold (over 72 bytes) still costs one bcrypt check before it fails."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import bcrypt

from app.errors import ApiError

ROUNDS = 12  # ~0.25 s a hash; tests lower it
PREFIX = "sha256$"
BCRYPT_MAX_BYTES = 72
SALT_CHARS = 29  # "$2b$12$" + 22 characters of salt
_dummy_hashes: dict[int, str] = {}
T = TypeVar("T")


def _prehash(password: str, salt: bytes) -> bytes:
    return base64.b64encode(hmac.new(salt, password.encode(), hashlib.sha256).digest())


def hash_password(password: str) -> str:
    """A new hash (CPU-bound: call it through `hash_async` from request handlers)."""
    salt = bcrypt.gensalt(ROUNDS)
    return PREFIX + bcrypt.hashpw(_prehash(password, salt), salt).decode()


def _dummy_hash() -> str:
    if ROUNDS not in _dummy_hashes:
        _dummy_hashes[ROUNDS] = hash_password("no account has this password")
    return _dummy_hashes[ROUNDS]


def verify_password(password: str, password_hash: str | None) -> bool:
    """One bcrypt check whatever the input: unknown users are checked against a dummy hash of the
    current cost, and a password an old hash cannot hold is checked in its pre-hashed form."""
    if password_hash is None:
        _check(password, _dummy_hash())
        return False
    return _check(password, password_hash)


def _check(password: str, password_hash: str) -> bool:
    try:
        if password_hash.startswith(PREFIX):
            stored = password_hash[len(PREFIX) :].encode()
            return bcrypt.checkpw(_prehash(password, stored[:SALT_CHARS]), stored)
        stored = password_hash.encode()
        data = password.encode()
        if len(data) > BCRYPT_MAX_BYTES or b"\0" in data:
            data = _prehash(password, stored[:SALT_CHARS])  # cannot match; costs the same
        return bcrypt.checkpw(data, stored)
    except ValueError:  # a malformed stored hash: nothing matches it, and it costs a check all the same
        bcrypt.checkpw(b"-", _dummy_hash()[len(PREFIX) :].encode())
        return False


class Hasher:
    """A small thread pool for bcrypt (it releases the GIL), so the event loop stays free, and a bound
    on the requests that may use it at once: `slot`, a route dependency declared before the database
    connection, refuses the rest at once (503 + Retry-After) before they hold a connection or a thread."""

    def __init__(self, workers: int, queue: int):
        self.workers, self.capacity, self.in_flight = workers, workers + queue, 0
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="bcrypt")
        return self._executor

    async def run(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool(), function, *args)


_hasher = Hasher(workers=2, queue=8)


def configure(workers: int, queue: int) -> None:
    """Size the process's pool (app.main, from settings); the previous one finishes what it has."""
    global _hasher
    if (_hasher.workers, _hasher.capacity) != (workers, workers + queue):
        _hasher = Hasher(workers, queue)


async def slot() -> AsyncIterator[None]:
    """Route dependency for requests that check or set a password: admitted while fewer than
    workers + queue are in progress, else a fast 503."""
    hasher = _hasher
    if hasher.in_flight >= hasher.capacity:
        raise ApiError(
            503, "busy", "too many password checks in progress; try again in a moment", headers={"Retry-After": "1"}
        )
    hasher.in_flight += 1
    try:
        yield
    finally:
        hasher.in_flight -= 1


async def hash_async(password: str) -> str:
    return await _hasher.run(hash_password, password)


async def verify_async(password: str, password_hash: str | None) -> bool:
    return await _hasher.run(verify_password, password, password_hash)
