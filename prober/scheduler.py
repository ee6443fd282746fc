"""The slot scheduler: one timer heap for every service, one task per check.

Each service fires at its aligned slots (prober/schedule.py). At a slot the scheduler asks the
fleet view who owns it; if this prober does, the check starts in its own task, bounded by a
semaphore, so a hanging target never delays another's slot. If the process falls more than an
interval behind, the missed slots are skipped and counted, never run in a burst.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable

from prober.checks import run_check
from prober.client import ProbeContext
from prober.models import ProbeResult, Target
from prober.rendezvous import View, rendezvous_owner
from prober.schedule import offset_s, slot_after, slot_at_or_before

log = logging.getLogger(__name__)
OnResult = Callable[[Target, int, ProbeResult, float], None]
STARTED_KEPT = 16  # slots remembered per service, so that a catch-up never re-runs one of ours


class Scheduler:
    def __init__(
        self,
        prober_id: str,
        ctx: ProbeContext,
        on_result: OnResult,
        *,
        view: Callable[[], View | None] | None = None,
        max_concurrency: int = 2000,
        clock: Callable[[], float] = time.time,
    ):
        self.prober_id = prober_id
        self.ctx = ctx
        self.on_result = on_result
        self.view = view  # None: standalone, every slot is ours
        self.clock = clock
        self.started_at = clock()  # slots before it were measured by no one here: never caught up
        self.targets: dict[str, Target] = {}
        self.in_flight: set[asyncio.Task[None]] = set()
        self.missed_slots = 0
        self.last_popped: dict[str, int] = {}  # latest slot considered, owned or not
        self.last_run: dict[str, int] = {}  # latest slot this prober checked
        self.started_slots: dict[str, deque[int]] = {}  # the last few slots this prober started
        self._generation: dict[str, int] = {}
        self._heap: list[tuple[int, int, str, int]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._stopping = False

    def set_targets(self, targets: list[Target]) -> None:
        """Add, change or remove services; a changed service restarts at its next slot."""
        wanted = {t.service_id: t for t in targets}
        for service_id in list(self.targets):
            if service_id not in wanted:
                del self.targets[service_id]
                self._generation[service_id] = self._generation.get(service_id, 0) + 1
        now = self.clock()
        for service_id, target in wanted.items():
            if self.targets.get(service_id) == target:
                continue
            self.targets[service_id] = target
            generation = self._generation[service_id] = self._generation.get(service_id, 0) + 1
            slot = slot_after(now, target.interval_s, offset_s(service_id, target.interval_s))
            heapq.heappush(self._heap, (slot, next(self._seq), service_id, generation))
        self._wake.set()

    def owns(self, service_id: str, slot: float) -> bool:
        if self.view is None:
            return True
        view = self.view()
        return view is not None and view.owner(service_id, slot) == self.prober_id

    def assigned_count(self) -> int:
        now = self.clock()
        return sum(
            1
            for t in self.targets.values()
            if self.owns(t.service_id, slot_after(now, t.interval_s, offset_s(t.service_id, t.interval_s)))
        )

    async def run(self) -> None:
        while not self._stopping:
            if not self._heap:
                await self._sleep(None)
                continue
            slot, _, service_id, generation = self._heap[0]
            delay = slot - self.clock()
            if delay > 0:
                await self._sleep(delay)
                continue
            heapq.heappop(self._heap)
            if self._generation.get(service_id) != generation:
                continue
            target = self.targets[service_id]
            self._push_next(target, slot, generation)
            self.last_popped[service_id] = slot
            if self.owns(service_id, slot):
                self.start_check(target, slot)

    def _push_next(self, target: Target, slot: int, generation: int) -> None:
        following = slot + target.interval_s
        now = self.clock()
        if now - following >= target.interval_s:  # far behind: skip to the next slot still ahead
            skipped = (
                slot_after(now, target.interval_s, offset_s(target.service_id, target.interval_s)) - following
            ) // target.interval_s
            self.missed_slots += int(skipped)
            following += int(skipped) * target.interval_s
        heapq.heappush(self._heap, (following, next(self._seq), target.service_id, generation))

    async def _sleep(self, delay: float | None) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass

    def start_check(self, target: Target, slot: int) -> None:
        self.last_run[target.service_id] = max(slot, self.last_run.get(target.service_id, slot))
        self.started_slots.setdefault(target.service_id, deque(maxlen=STARTED_KEPT)).append(slot)
        task = asyncio.create_task(self._check(target, slot), name=f"check:{target.service_id}:{slot}")
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _check(self, target: Target, slot: int) -> None:
        async with self._semaphore:
            lag_s = self.clock() - slot
            if lag_s >= target.interval_s:
                # Its slot is over (the prober fell that far behind): a check now would be stored as
                # a measurement of a time nobody measured. A gap instead.
                self.missed_slots += 1
                return
            result = await run_check(target, self.ctx)
        try:
            self.on_result(target, slot, result, lag_s)
        except Exception:  # a bug in result handling must not kill the prober
            log.exception("result handling failed", extra={"service_id": target.service_id, "job": "check"})

    def catch_up_candidates(self, view: View) -> list[tuple[Target, int]]:
        """The current slot of each service whose owner lapsed before checking it and that now falls to
        this prober. Only the current one: a slot is measured in its own slot or not at all — a check
        run after the next slot began would be stored as a measurement of a time nobody measured, so an
        earlier slot a lapsed prober left stays a gap (it lowers coverage, never availability). Never a
        slot from before this scheduler started (a restarted prober skips the slots it was down for).
        The caller drops those already stored."""
        now = self.clock()
        live = [m for m in view.members if m.expires_at > view.as_of]
        found = []
        for target in self.targets.values():
            sid = target.service_id
            slot = slot_at_or_before(now, target.interval_s, offset_s(sid, target.interval_s))
            if slot < self.started_at or self.last_popped.get(sid, -1) < slot:
                continue  # before our time, or not yet due here: the schedule runs it
            if slot in self.started_slots.get(sid, ()):
                continue  # ours already
            eligible = tuple(m.prober_id for m in live if m.active_from <= slot)
            if rendezvous_owner(sid, eligible) == self.prober_id:
                found.append((target, slot))
        return found

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop starting checks; give running ones `grace_s` to finish, cancel the rest."""
        self._stopping = True
        self._wake.set()
        if self.in_flight:
            done, pending = await asyncio.wait(set(self.in_flight), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)
