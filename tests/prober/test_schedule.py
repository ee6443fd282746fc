"""Slots: aligned to the interval plus a stable per-service offset, no drift, no slot delayed by another."""

import asyncio
import time

from hypothesis import given
from hypothesis import strategies as st

from prober.schedule import offset_s, slot_after, slot_at_or_before
from prober.scheduler import Scheduler
from tests.prober.conftest import target


def test_offsets_are_stable_and_spread():
    offsets = [offset_s(f"service-{i}", 60) for i in range(600)]
    assert offsets == [offset_s(f"service-{i}", 60) for i in range(600)]
    assert all(0 <= o < 60 for o in offsets)
    assert len(set(offsets)) == 60  # every second of the minute is used
    assert max(offsets.count(o) for o in set(offsets)) < 30


@given(
    st.floats(min_value=1e9, max_value=4e9), st.sampled_from([10, 30, 60, 300, 3600]), st.text(min_size=1, max_size=20)
)
def test_slots_are_aligned(now, interval, service_id):
    offset = offset_s(service_id, interval)
    before, after = slot_at_or_before(now, interval, offset), slot_after(now, interval, offset)
    assert before <= now < after == before + interval
    assert (before - offset) % interval == 0


def test_no_drift_over_days():
    offset = offset_s("face-compare", 60)
    start = 1_750_000_000.0
    slot = slot_after(start, 60, offset)
    for _ in range(3 * 24 * 60):
        slot = slot_after(slot + 0.0001, 60, offset)  # re-derived from the clock each time, never accumulated
    assert slot == slot_after(start, 60, offset) + 3 * 24 * 60 * 60


async def test_scheduler_runs_each_slot_once_on_time_and_hanging_targets_do_not_delay_others(
    ctx, web_port, hostile_ports
):
    seen: list[tuple[str, int, float]] = []
    scheduler = Scheduler("solo", ctx, lambda t, slot, result, lag: seen.append((t.service_id, slot, lag)))
    fast = [target(f"http://127.0.0.1:{web_port}/ok", service_id=f"fast-{i}", interval_s=1 + i % 2) for i in range(6)]
    hanging = [
        target(f"http://127.0.0.1:{hostile_ports['silent']}/", service_id=f"hang-{i}", interval_s=1, timeout_s=10)
        for i in range(50)
    ]
    scheduler.set_targets(fast + hanging)
    runner = asyncio.create_task(scheduler.run())
    started = time.time()
    await asyncio.sleep(4.2)
    stopped = time.time()
    await scheduler.stop(grace_s=0)
    runner.cancel()
    fast_runs = [(s, slot, lag) for s, slot, lag in seen if s.startswith("fast")]
    for service in fast:
        interval, offset = service.interval_s, offset_s(service.service_id, service.interval_s)
        slots = sorted(slot for s, slot, _ in fast_runs if s == service.service_id)
        due = range(slot_after(started, interval, offset), int(stopped) + 1, interval)
        assert set(s for s in due if s <= stopped - 0.5) <= set(slots) <= set(due), service.service_id
    assert max(lag for _, _, lag in fast_runs) < 0.5  # a loose bound: the 2-core CI box is shared
    assert len({(s, slot) for s, slot, _ in seen}) == len(seen)


async def test_falling_behind_skips_slots_instead_of_bursting(ctx, web_port):
    now = [1_000_000.0]
    seen = []
    scheduler = Scheduler("solo", ctx, lambda t, slot, r, lag: seen.append(slot), clock=lambda: now[0])
    scheduler.set_targets([target(f"http://127.0.0.1:{web_port}/ok", service_id="x", interval_s=10)])
    now[0] += 3600  # the process was frozen for an hour
    runner = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.3)
    await scheduler.stop(grace_s=2)
    runner.cancel()
    # No burst of the hour's slots, and not even the stale one: its slot ended an hour ago, and a
    # check now would be stored as a measurement of a time nobody measured (a gap instead).
    assert seen == [] and scheduler.missed_slots >= 360
