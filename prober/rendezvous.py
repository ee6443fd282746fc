"""Fleet membership as seen for one slot, and rendezvous (highest-random-weight) assignment.

A slot is owned by exactly one prober of a region, computed from the slot's own timestamp:
- a prober is eligible for slots at or after its `active_from` (set `handover_delay` after it
  joins a region that already has live members, so that every member sees the newcomer before the
  newcomer's first slot);
- a prober whose heartbeat has expired (final `expires_at`) is eligible only for slots before that
  expiry; a live one is eligible for every later slot (it may renew).
Every prober evaluates the same function over the same heartbeat rows, so they agree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Member:
    prober_id: str
    active_from: float  # epoch seconds
    expires_at: float  # epoch seconds


@dataclass(frozen=True)
class View:
    """The members of one region as read from the database at `as_of` (database clock, epoch s)."""

    members: tuple[Member, ...]
    as_of: float

    def eligible(self, slot: float) -> tuple[str, ...]:
        return tuple(
            sorted(
                m.prober_id
                for m in self.members
                if m.active_from <= slot and (m.expires_at > self.as_of or slot < m.expires_at)
            )
        )

    def owner(self, service_id: str, slot: float) -> str | None:
        return rendezvous_owner(service_id, self.eligible(slot))


def weight(service_id: str, prober_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{service_id}\x00{prober_id}".encode(), digest_size=8).digest(), "big")


def rendezvous_owner(service_id: str, prober_ids: tuple[str, ...]) -> str | None:
    """The prober with the highest weight for this service; moving one prober moves only its services."""
    if not prober_ids:
        return None
    return max(prober_ids, key=lambda p: weight(service_id, p))


def epoch(value: datetime) -> float:
    return value.timestamp()
