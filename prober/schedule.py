"""Slot arithmetic: each service runs at `k * interval + offset` (epoch seconds), where the offset is a
stable hash of the service id, so checks spread over the interval instead of all firing at :00.
Slots are computed, never accumulated, so there is no drift however long a prober runs."""

from __future__ import annotations

import hashlib
import math


def offset_s(service_id: str, interval_s: int) -> int:
    """Stable per-service offset in whole seconds, 0 <= offset < interval."""
    digest = hashlib.sha256(service_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % max(int(interval_s), 1)


def slot_at_or_before(epoch_s: float, interval_s: int, offset: int) -> int:
    """The latest slot <= epoch_s."""
    return math.floor((epoch_s - offset) / interval_s) * interval_s + offset


def slot_after(epoch_s: float, interval_s: int, offset: int) -> int:
    """The earliest slot strictly after epoch_s."""
    return slot_at_or_before(epoch_s, interval_s, offset) + interval_s
