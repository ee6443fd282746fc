"""Live status end to end: real probers (one per region) check real HTTP targets on loopback and store
through the ingest; the worker's LiveStatus computes status-update / uptime-updated from what is stored
(the API's own rule); a real Socket.IO client on a live API process receives them. Measured in issue 14:
a prober announced its own region's verdict (`operational` with an open P1 while the API said
`outage`; one verdict per prober when regions disagree), and no uptime-updated was ever sent."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest

from app.ingest.service import CheckRow, write_checks
from app.realtime.publisher import channel_for
from prober.runner import Prober, ProberOptions
from tests.app.test_realtime import Client, server  # noqa: F401 (fixture)
from tests.prober.conftest import target, web_port  # noqa: F401 (fixture)
from tests.workers.conftest import bounded
from workers.common import EventPublisher
from workers.live import CHANNEL, LiveStatus

SERVICE = "id-recognition"
P1 = {"title": "인증 장애", "description": "", "severity": "critical", "affected_services": [SERVICE]}


def _options(settings, tmp_path, region):
    # With Redis, as `slamon prober` runs: before issue 14 each prober announced its own verdict there.
    return ProberOptions(
        region=region,
        prober_id=f"{region}-p0",
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        realtime_channel=channel_for(settings),
        data_dir=tmp_path,
        heartbeat_s=0.25,
        ttl_s=1.0,
        handover_delay_s=0.0,
        flush_interval_s=0.2,
        targets_refresh_s=3600,
    )


async def _probe(settings, tmp_path, conn, urls: dict[str, str], slots: int = 3) -> None:
    """Run one prober per region until each stored `slots` checks of SERVICE, then stop them (flushed)."""
    probers = []
    for region, url in urls.items():
        targets = [target(url, service_id=SERVICE, interval_s=1)]

        async def source(targets=targets):
            return targets

        prober = Prober(_options(settings, tmp_path, region), targets=source)
        await prober.start()
        probers.append(prober)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            counts = {
                r["region"]: r["n"]
                for r in await conn.fetch(
                    "SELECT region, count(*) AS n FROM checks WHERE service_id = $1 GROUP BY region", SERVICE
                )
            }
            if all(counts.get(region, 0) >= slots for region in urls):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail(f"probers did not store {slots} slots in time: {counts}")
    finally:
        async with bounded("stopping the probers"):
            for prober in probers:
                await prober.stop(grace_s=2)


async def _status_updates(client: Client, wait: float = 1.0) -> list[dict]:
    """The status-updates of SERVICE that arrive until `wait` seconds pass without one."""
    seen = []
    while True:
        try:
            data = await client.next("status-update", wait)
        except TimeoutError:
            return seen
        if data["serviceId"] == SERVICE:
            seen.append(data)


async def _api_status(staff) -> str:
    body = (await staff.client.get("/api/system-status")).json()
    return next(s["status"] for s in body["services"] if s["id"] == SERVICE)


@pytest.fixture
async def live(pool, settings):
    publisher = EventPublisher(settings)
    component = LiveStatus(settings, pool, publisher, tick_s=0.5, settle_s=0.05)
    yield component
    async with bounded("stopping live status"):
        await component.stop()
        await publisher.close()


async def test_an_open_p1_keeps_the_service_in_outage_while_its_checks_recover(
    staff,
    server,
    live,
    conn,  # noqa: F811
    settings,
    tmp_path,
    web_port,
):
    assert (
        await staff.client.post("/api/incidents", json=P1, headers=await staff.headers("reporter"))
    ).status_code == 201
    browser = await Client().connect(server)
    await browser.join("system-status")
    await _probe(settings, tmp_path, conn, {"seoul": f"http://127.0.0.1:{web_port}/ok"})
    await live.start()
    updates = await _status_updates(browser, wait=3.0)
    assert [u["status"] for u in updates] == ["outage"]  # never the prober's own "operational"
    assert updates[0]["overallStatus"] == "outage" and updates[0]["seq"]
    assert await _api_status(staff) == "outage"
    await browser.sio.disconnect()


async def test_regions_that_disagree_get_one_verdict_the_majority(
    staff,
    server,
    live,
    conn,  # noqa: F811
    settings,
    tmp_path,
    web_port,
):
    """Seoul's checks fail, Tokyo's and Frankfurt's succeed: the slots are good by majority, so the one
    verdict is operational; no prober announces its region's outage."""
    browser = await Client().connect(server)
    await browser.join("system-status")
    ok, failing = f"http://127.0.0.1:{web_port}/ok", f"http://127.0.0.1:{web_port}/status/503"
    await _probe(settings, tmp_path, conn, {"seoul": failing, "tokyo": ok, "frankfurt": ok})
    await live.start()
    updates = await _status_updates(browser, wait=3.0)
    assert [u["status"] for u in updates] == ["operational"]
    assert await _api_status(staff) == "operational"
    await browser.sio.disconnect()


async def test_stored_slots_and_incident_writes_wake_the_computation(staff, server, live, conn):  # noqa: F811
    """No timer involved: the NOTIFY of a committed write starts a computation within the settle time."""
    live.tick_s = 3600
    browser = await Client().connect(server)
    await browser.join("system-status")
    await live.start()
    first = await _status_updates(browser, wait=1.5)  # the first announcement of every service
    assert [u["status"] for u in first] == ["operational"]
    r = await staff.client.post(
        "/api/incidents", json={**P1, "severity": "medium"}, headers=await staff.headers("reporter")
    )
    assert r.status_code == 201 and r.json()["incident"]["priority"] == "P3"
    degraded = await browser.next("status-update", 10)
    assert degraded["serviceId"] == SERVICE and degraded["status"] == "degraded"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    await write_checks(
        conn,
        [
            CheckRow(now - timedelta(minutes=m), SERVICE, "seoul", False, 503, 40, "http_error", "503")
            for m in (3, 2, 1)
        ],
    )
    outage = await browser.next("status-update", 10)
    assert outage["serviceId"] == SERVICE and outage["status"] == "outage"
    await browser.sio.disconnect()


async def test_stored_checks_queue_detection_for_their_service(pool, settings, conn, queue_redis_url):
    """The prober's status change used to queue detection; now the stored checks themselves do."""
    from arq import create_pool
    from arq.connections import RedisSettings

    async with bounded("connecting arq"):
        arq = await create_pool(RedisSettings.from_dsn(queue_redis_url))
    publisher = EventPublisher(settings)
    component = LiveStatus(settings, pool, publisher, arq.enqueue_job, tick_s=3600, settle_s=0.05)
    try:
        async with bounded("detection queued for the stored checks"):
            await component.start()
            now = datetime.now(timezone.utc).replace(microsecond=0)
            await write_checks(conn, [CheckRow(now - timedelta(minutes=1), "face-compare", "seoul", True, 200, 90)])
            for _ in range(200):
                queued = [j.function for j in await arq.queued_jobs() if j.args == ("face-compare",)]
                if queued:
                    break
                await asyncio.sleep(0.05)
        assert queued == ["detect_incidents"]
    finally:
        async with bounded("stopping live status and closing arq"):
            await component.stop()
            await publisher.close()
            await arq.flushdb()
            await arq.aclose()


async def test_stop_ends_the_loop_when_a_notification_arrives_with_it(pool, settings, caplog):
    """CI was killed in this file (90-minute limit). One way it waited for ever: stop() cancelled the
    loop in the same turn of the event loop in which a NOTIFY woke it; Python 3.11's asyncio.wait_for
    then returns the wake-up instead of raising the cancellation, the loop went on to wait `tick_s`
    (3600 s here) again and again, and stop() waited for it for ever. `_notified` is what asyncpg
    calls for a NOTIFY on the listener."""
    publisher = EventPublisher(settings)
    component = LiveStatus(settings, pool, publisher, tick_s=3600, settle_s=0.05)
    try:
        await component.start()
        async with bounded("the first computation"):
            while component.runs < 1:  # what was written while not listening
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # the loop waits for the next write
        component._notified(None, 0, CHANNEL, "services")
        async with bounded("LiveStatus.stop() (the loop lost its cancellation)", 20):
            await component.stop()
        assert component._task is not None and component._task.done()
        assert not [r for r in caplog.records if "did not stop" in r.getMessage()]  # not by stop()'s own bound
    finally:
        async with bounded("stopping live status"):
            await component.stop()
            await publisher.close()
