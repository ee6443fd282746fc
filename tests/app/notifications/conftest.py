"""Notification fixtures: real loopback receivers, and the worker's real notification jobs running in
an arq Worker of this event loop (its own queue, the real Redis, the outbox listener)."""

from __future__ import annotations

import asyncio
import email
import socket
import time
import uuid

import pytest
from aiosmtpd.controller import Controller
from arq.connections import RedisSettings
from arq.worker import Worker

from tests.app.notifications.receivers import Receiver
from workers import notify
from workers.settings import WorkerSettings

FAST = {"webhook_backoff_s": 0.2, "webhook_backoff_max_s": 5.0, "webhook_timeout_s": 3.0}


@pytest.fixture
async def make_receiver():
    receivers: list[Receiver] = []

    async def make(**kwargs) -> Receiver:
        receivers.append(await Receiver(**kwargs).start())
        return receivers[-1]

    yield make
    for receiver in receivers:
        await receiver.stop()


@pytest.fixture
async def run_worker(pool, settings):
    """Start the notification jobs in an arq Worker here; returns its ctx (settings overridable)."""
    running: list[tuple[Worker, asyncio.Task]] = []

    async def start(**overrides) -> dict:
        ctx = {"settings": settings.model_copy(update={**FAST, **overrides}), "pool": pool}
        worker = Worker(
            functions=WorkerSettings.functions,
            queue_name=f"slamon-test:{uuid.uuid4().hex}",
            redis_settings=RedisSettings.from_dsn(settings.redis_url),
            ctx=ctx,
            on_startup=notify.startup,
            on_shutdown=notify.shutdown,
            handle_signals=False,
            poll_delay=0.05,
            max_tries=5,
        )
        running.append((worker, asyncio.create_task(worker.main())))
        while "notify_listener" not in ctx:
            await asyncio.sleep(0.01)
        return ctx

    yield start
    for worker, task in running:
        await _stop(worker, task)


async def _stop(worker: Worker, main: asyncio.Task) -> None:
    """Stop a worker and run its shutdown. The jobs are cancelled and awaited here, not by arq's close():
    close() gathers the jobs it cancels, and a job cancelled while arq reads or finishes it in Redis ends
    cancelled, so the gather raises and close() returns before on_shutdown. The outbox listener left
    open would then turn the next test's wake-ups into jobs on this dead queue, under the very job ids
    the next test's worker needs, and that test would wait for a delivery that never comes."""
    main.cancel()
    jobs = list(worker.tasks.values())
    for job in jobs:
        job.cancel()
    await asyncio.gather(main, *jobs, return_exceptions=True)
    worker.tasks.clear()
    await worker.close()
    assert "notify_listener" not in worker.ctx, "the worker's outbox listener outlived it"


async def wait_until(check, timeout: float = 30.0, interval: float = 0.05):
    """Poll an async predicate until it holds (the timeout only stops a broken test from hanging)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(interval)


async def subscribe(staff, **body) -> dict:
    """Create a subscription through the API as an admin; returns it (with its secret)."""
    body = {"name": "receiver", "kind": "webhook", "allow_private": True, **body}
    r = await staff.client.post("/api/subscriptions", json=body, headers=await staff.headers("admin"))
    assert r.status_code == 201, r.text
    return r.json()["subscription"]


async def delivery_rows(conn, subscription_id: int | None = None) -> list:
    return await conn.fetch(
        """SELECT d.*, e.kind AS event_kind FROM notification_deliveries d
                               JOIN notification_events e ON e.id = d.event_id
                               WHERE $1::bigint IS NULL OR d.subscription_id = $1 ORDER BY d.created_at, e.id""",
        subscription_id,
    )


class Inbox:
    def __init__(self):
        self.messages: list[tuple[list[str], email.message.Message]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on loopback that keeps every message: yields (inbox, port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
