"""Status per service from this prober's results, published at once to Redis (Socket.IO + arq job);
Redis being down never stops anything."""

import asyncio
import json
import os

import pytest
import redis.asyncio as aioredis

from prober.status import Publisher, StatusChange, StatusTracker, current_status

# A database of its own, so that a worker running on the shared Redis does not consume the job first.
REDIS_URL = os.environ.get("SLAMON_REDIS_URL", "redis://127.0.0.1:56379/0").rsplit("/", 1)[0] + "/9"
CHANNEL = "slamon:test-prober-status"  # what the API processes of one deployment listen on


@pytest.mark.parametrize(
    "recent, status",
    [
        ([(True, 100)], "operational"),
        ([(True, 8000)], "degraded"),
        ([(False, None)], "degraded"),
        ([(False, None), (False, None)], "degraded"),
        ([(False, None)] * 3, "outage"),
        ([(True, 100), (False, None), (False, None), (False, None)], "outage"),
        ([(False, None), (False, None), (True, 100)], "operational"),
    ],
)
def test_current_status(recent, status):
    assert current_status(recent, latency_target_ms=7000) == status


def test_tracker_reports_changes_only():
    tracker = StatusTracker()
    changes = [
        tracker.record("svc", slot, ok, 100, 7000)
        for slot, ok in enumerate([True, True, False, False, False, False, True], start=1)
    ]
    assert [c.status if c else None for c in changes] == [
        "operational",
        None,
        "degraded",
        None,
        "outage",
        None,
        "operational",
    ]
    assert tracker.record("svc", 3, False, None, 7000) is None  # a late, older slot changes nothing


async def test_status_change_reaches_socketio_room_and_arq():
    client = aioredis.from_url(REDIS_URL)
    pubsub = client.pubsub()
    await pubsub.subscribe(CHANNEL)
    await pubsub.get_message(timeout=1)
    publisher = Publisher(REDIS_URL, "test-status", CHANNEL)
    task = asyncio.create_task(publisher.run())
    slot = 1_767_225_600
    publisher.offer(StatusChange("face-compare", "outage", slot))
    message = None
    for _ in range(50):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message:
            break
    await publisher.drain(5)
    task.cancel()
    await publisher.close()
    assert message is not None
    packet = json.loads(message["data"])
    assert packet["method"] == "emit" and packet["event"] == "status-update" and packet["room"] == ["system-status"]
    (data,) = packet["data"]
    assert data.pop("seq")  # recorded for replay, like every event of the API processes
    assert data == {"serviceId": "face-compare", "status": "outage", "timestamp": "2026-01-01T00:00:00Z"}
    job_id = f"detect:face-compare:{slot}"
    assert await client.exists(f"arq:job:{job_id}")
    assert await client.zscore("arq:queue", job_id) is not None
    await client.delete(f"arq:job:{job_id}")
    await client.zrem("arq:queue", job_id)
    await pubsub.aclose()
    await client.aclose()


async def test_redis_down_is_logged_and_counted_never_raised():
    publisher = Publisher("redis://127.0.0.1:1/0", "test-status", CHANNEL)
    task = asyncio.create_task(publisher.run())
    publisher.offer(StatusChange("face-compare", "degraded", 1_767_225_600))
    await publisher.drain(10)
    task.cancel()
    assert publisher.failed == 1 and publisher.published == 0
