"""What confirmed public subscribers receive: incident created / updated / status changed / resolved and
maintenance scheduled / started / ended, only for the services they chose, each exactly once (the
worker's scan runs on several ticks and the keys of the outbox keep each transition once)."""

import asyncio
from datetime import datetime, timedelta, timezone

from tests.app.notifications.conftest import wait_until
from workers import notify


def news(receiver) -> list[str]:
    return [r.json["event"] for r in receiver.requests if r.json["event"] != "subscription.confirm"]


async def test_subscribers_get_the_news_of_their_services_once(public, make_receiver, run_worker):
    chosen, other, everything = await make_receiver(), await make_receiver(), await make_receiver()
    await public.confirm_directly(kind="webhook", url=chosen.url, services=["face-compare"])
    await public.confirm_directly(kind="webhook", url=other.url, services=["id-liveness"])
    await public.confirm_directly(kind="webhook", url=everything.url)
    ctx = await run_worker()

    reporter = await public.staff.headers("reporter")
    incident = await public.incident()
    base = f"/api/incidents/{incident['id']}"
    for body in (
        {"description": "Still looking", "version": 1},
        {"status": "identified", "description": "Bad deploy", "version": 2},
        {"status": "resolved", "description": "Rolled back", "version": 3},
    ):
        r = await public.staff.client.post(f"{base}/updates", headers=reporter, json=body)
        assert r.status_code == 201, r.text

    now = datetime.now(timezone.utc)
    window = {
        "title": "DB upgrade",
        "affected_services": ["face-compare"],
        "starts_at": (now + timedelta(seconds=1)).isoformat(),
        "ends_at": (now + timedelta(seconds=2)).isoformat(),
    }
    r = await public.staff.client.post("/api/maintenance", json=window, headers=await public.staff.headers("admin"))
    assert r.status_code == 201, r.text
    await asyncio.sleep(2.2)
    for _ in range(3):  # ticks in a row (and the worker's own cron): each transition is announced once
        await notify.notify_tick(ctx)

    expected = [
        "incident.created",
        "incident.updated",
        "incident.status_changed",
        "incident.resolved",
        "maintenance.scheduled",
        "maintenance.started",
        "maintenance.ended",
    ]

    async def arrived():
        return len(news(chosen)) >= len(expected) and len(news(everything)) >= len(expected)

    await wait_until(arrived)
    await notify.notify_tick(ctx)
    await public.dispatched()
    await asyncio.sleep(0.5)
    # each once (deliveries run in parallel: their order is not the events')
    assert sorted(news(chosen)) == sorted(expected) and sorted(news(everything)) == sorted(expected)
    assert news(other) == []
    assert len(chosen.unique_by_delivery()) == len(chosen.requests)
