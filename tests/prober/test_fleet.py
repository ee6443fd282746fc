"""Fleet: probers of a region share the services by rendezvous hashing over heartbeats; when one dies
the others take its services over; a slot is checked once per region (verified from `checks`)."""

import asyncio
import time
from collections import Counter
from datetime import datetime, timezone

from prober.rendezvous import Member, View, rendezvous_owner
from prober.runner import Prober, ProberOptions
from prober.schedule import offset_s, slot_after
from tests.prober.conftest import add_services, target

INTERVAL_S = 2
SERVICES = [f"fleet-{i:02d}" for i in range(15)]


def test_rendezvous_moves_only_the_lost_probers_services():
    services = [f"s{i}" for i in range(2000)]
    before = {s: rendezvous_owner(s, ("a", "b", "c")) for s in services}
    after = {s: rendezvous_owner(s, ("a", "c")) for s in services}
    assert all(after[s] == before[s] for s in services if before[s] != "b")
    assert 500 < Counter(before.values())["b"] < 830


def test_view_decides_owner_per_slot():
    view = View((Member("a", 0, 1e12), Member("b", 100, 1e12), Member("dead", 0, 50)), as_of=60)
    assert view.eligible(10) == ("a", "dead")
    assert view.eligible(55) == ("a",)  # after the dead member's final expiry
    assert view.eligible(100) == ("a", "b")  # the newcomer only from its active_from


def _options(database_url, tmp_path, prober_id, region, heartbeat_s=0.25, ttl_s=1.0):
    return ProberOptions(
        region=region,
        prober_id=prober_id,
        database_url=database_url,
        redis_url=None,
        data_dir=tmp_path,
        heartbeat_s=heartbeat_s,
        ttl_s=ttl_s,
        handover_delay_s=0.6,
        flush_interval_s=0.2,
        targets_refresh_s=3600,
    )


async def _start_fleet(database_url, tmp_path, web_port, region, count, attempts, interval_s=INTERVAL_S, **options):
    targets = [target(f"http://127.0.0.1:{web_port}/ok", service_id=s, interval_s=interval_s) for s in SERVICES]

    async def source():
        return targets

    probers = []
    for index in range(count):
        prober = Prober(_options(database_url, tmp_path, f"{region}-p{index}", region, **options), targets=source)
        handle = prober.on_result

        def record(t, slot, result, lag, handle=handle, pid=prober.options.prober_id):
            attempts.append((pid, t.service_id, slot))
            handle(t, slot, result, lag)

        prober.scheduler.on_result = record
        await prober.start()
        probers.append(prober)
    return probers


def _crash(prober: Prober) -> None:
    """What SIGKILL does to a prober: everything stops at once, nothing is flushed or deregistered."""
    for task in [*prober._tasks, *prober.scheduler.in_flight]:
        task.cancel()
    for conn in (prober.fleet._conn, prober.sink._conn):
        if conn is not None:
            conn.terminate()
    prober.spool.close()


async def _kill_the_third(probers: list[Prober]) -> float:
    """Crash the third prober, let the other two run on for 6 s, stop them; returns the end of the
    window in which every slot must have been checked."""
    victim = probers[2]
    _crash(victim)
    await asyncio.sleep(6)
    end = time.time() - 1.0
    for prober in probers[:2]:
        await prober.stop(grace_s=2)
    await victim.ctx.close()
    return end


def _due_slots(start: float, end: float, interval_s: int = INTERVAL_S) -> set[tuple[str, int]]:
    due = set()
    for service in SERVICES:
        slot = slot_after(start, interval_s, offset_s(service, interval_s))
        while slot <= end:
            due.add((service, slot))
            slot += interval_s
    return due


async def _stored(conn, region, start, end):
    rows = await conn.fetch("SELECT service_id, ts FROM checks WHERE region = $1", region)
    return Counter((r["service_id"], int(r["ts"].timestamp())) for r in rows if start <= r["ts"].timestamp() <= end)


async def test_killed_prober_is_replaced_and_every_slot_checked_once(conn, database_url, tmp_path, web_port):
    await add_services(conn, SERVICES)
    attempts: list[tuple[str, str, int]] = []
    probers = await _start_fleet(database_url, tmp_path, web_port, "fleet-kill", 3, attempts)
    steady = time.time() + 0.8  # all three eligible after the handover delay
    await asyncio.sleep(4)
    victim = probers[2]
    assert victim.fleet.assigned_services > 0
    # What SIGKILL loses: results checked but not yet in the database (buffered or journaled only).
    # The survivors cannot know those slots were checked, so they may check them again.
    unsent = {(r.service_id, int(r.ts.timestamp())) for r in [*victim.sink._buffer, *victim.spool.read(10_000)[0]]}
    end = await _kill_the_third(probers)
    ran = Counter((service, slot) for _, service, slot in attempts if steady <= slot <= end)
    twice = {k for k, n in ran.items() if n > 1}
    assert twice <= unsent  # no slot checked twice by the region, but for the dead prober's unsent results
    stored = await _stored(conn, "fleet-kill", steady, end)
    missing = _due_slots(steady, end) - set(stored)
    assert missing == set(), f"{len(missing)} slot(s) never checked: {sorted(missing)[:5]}"
    survivors = {pid for pid, _, slot in attempts if slot > end - 3}
    assert survivors == {"fleet-kill-p0", "fleet-kill-p1"}


async def test_every_slot_a_dead_prober_left_is_checked_when_the_interval_is_shorter_than_its_ttl(
    conn, database_url, tmp_path, web_port
):
    """1 s slots, a 3 s ttl: a prober that dies leaves about three slots per service unchecked before
    the others see it gone; all of them are caught up, not only the latest."""
    await add_services(conn, SERVICES)
    probers = await _start_fleet(
        database_url, tmp_path, web_port, "fleet-short", 3, [], interval_s=1, heartbeat_s=0.5, ttl_s=3.0
    )
    steady = time.time() + 0.8
    await asyncio.sleep(3)
    assert probers[2].fleet.assigned_services > 0
    end = await _kill_the_third(probers)
    stored = await _stored(conn, "fleet-short", steady, end)
    missing = _due_slots(steady, end, interval_s=1) - set(stored)
    assert missing == set(), f"{len(missing)} slot(s) never checked: {sorted(missing)[:5]}"


async def test_graceful_stop_hands_over_at_once(conn, database_url, tmp_path, web_port):
    await add_services(conn, SERVICES)
    attempts: list[tuple[str, str, int]] = []
    probers = await _start_fleet(database_url, tmp_path, web_port, "fleet-stop", 2, attempts)
    steady = time.time() + 0.8
    await asyncio.sleep(3)
    await probers[1].stop(grace_s=2)
    await asyncio.sleep(4)
    end = time.time() - 1.0
    await probers[0].stop(grace_s=2)
    ran = Counter((service, slot) for _, service, slot in attempts if steady <= slot <= end)
    assert [k for k, n in ran.items() if n > 1] == []
    assert _due_slots(steady, end) - set(await _stored(conn, "fleet-stop", steady, end)) == set()


async def test_two_regions_each_check_every_service(conn, database_url, tmp_path, web_port):
    await add_services(conn, SERVICES)
    attempts: list = []
    seoul = await _start_fleet(database_url, tmp_path / "a", web_port, "fleet-seoul", 1, attempts)
    virginia = await _start_fleet(database_url, tmp_path / "b", web_port, "fleet-virginia", 2, attempts)
    start = time.time() + 0.8
    await asyncio.sleep(3.5)
    end = time.time() - 1.0
    for prober in seoul + virginia:
        await prober.stop(grace_s=2)
    due = _due_slots(start, end)
    assert due <= set(await _stored(conn, "fleet-seoul", start, end))
    assert due <= set(await _stored(conn, "fleet-virginia", start, end))
