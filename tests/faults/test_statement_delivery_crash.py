"""A real `slamon worker` is SIGKILLed (with its browser: the whole process group) in the middle of
delivering a month's statements by its schedule: two customers' emails are through and recorded, a
third is inside the SMTP conversation (a real aiosmtpd server on loopback holds its DATA). A new
worker finishes the run: every customer gets exactly one email (with the PDF), the one cut short is
sent again under its lease (its first attempt stays in the delivery log without an outcome), and
nothing delivered is sent twice."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import threading
from datetime import datetime, timezone

from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.faults.conftest import wait_for, wait_gone

CUSTOMERS = [f"cust-{n}" for n in range(1, 6)]
HOLD_AT = 3  # the third message is held open until the worker is dead


class HoldingInbox:
    """Keeps every message it accepts; holds the HOLD_AT-th one (and any after it) until `killed`,
    then refuses it (451): the sender vanished before the end of its DATA was answered."""

    def __init__(self) -> None:
        self.accepted: list[email.message.EmailMessage] = []
        self.holding = threading.Event()
        self.killed = threading.Event()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            hold = not self.killed.is_set() and (self.holding.is_set() or len(self.accepted) == HOLD_AT - 1)
            if hold:
                self.holding.set()
            else:
                self.accepted.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        if hold:
            while not self.killed.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 the client went away"
        return "250 OK"

    def recipients(self) -> list[str]:
        with self.lock:
            return sorted(str(m["To"]) for m in self.accepted)


async def _seed(stack) -> str:
    """Five customers with one contact each, their previous month closed; returns that month."""
    now = datetime.now(timezone.utc)
    previous = f"{now.year - (now.month == 1):04d}-{(now.month - 2) % 12 + 1:02d}"
    conn = await stack.connect()
    try:
        service = await conn.fetchval("SELECT id FROM services ORDER BY id LIMIT 1")
        for customer in CUSTOMERS:
            await conn.execute(
                "INSERT INTO customers (id, name, contacts, tier, monthly_fee, currency, starts_on) "
                "VALUES ($1, $1, ARRAY[$1 || '@customers.example'], 'professional', 1000, 'EUR', '2020-01-01')",
                customer,
            )
            await conn.execute(
                "INSERT INTO customer_services (customer_id, service_id) VALUES ($1, $2)", customer, service
            )
    finally:
        await conn.close()
    stack.run("report", "close", "--month", previous)
    return previous


async def _delivered(stack) -> int:
    conn = await stack.connect()
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM notification_deliveries WHERE event_key LIKE 'statement:%' AND status = 'delivered'"
        )
    finally:
        await conn.close()


async def test_a_worker_killed_mid_delivery_leaves_each_customer_exactly_one_email(stack):
    month = await _seed(stack)
    inbox = HoldingInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    now = datetime.now(timezone.utc)
    env = {
        "SLAMON_SMTP_HOST": "127.0.0.1",
        "SLAMON_SMTP_PORT": str(port),
        "SLAMON_SMTP_SECURITY": "none",
        # due today at midnight (UTC), so the schedule's run at start-up delivers the month just closed
        "SLAMON_STATEMENT_DELIVERY_DAY": str(min(now.day, 28)),
        "SLAMON_STATEMENT_DELIVERY_TIME": "00:00",
        "SLAMON_STATEMENT_DELIVERY_TIMEZONE": "UTC",
        "SLAMON_WEBHOOK_TIMEOUT_S": "3",  # an attempt's lease: 3 + 5 s
        "SLAMON_WEBHOOK_BACKOFF_S": "1",
    }
    try:
        first = stack.slamon("worker", "--metrics-port", "0", log_name="worker-1", **env)
        await wait_for(inbox.holding.is_set, 180, "the third email to be in the SMTP conversation")
        # the two accepted emails are recorded as delivered: the crash comes after, not between
        await wait_for(lambda: _delivered_count_is(stack, HOLD_AT - 1), 30, "exactly two recorded deliveries")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        wait_gone([first.pid])
        inbox.killed.set()
        assert len(inbox.recipients()) == HOLD_AT - 1

        second = stack.slamon("worker", "--metrics-port", "0", log_name="worker-2", **env)
        await wait_for(lambda: len(inbox.recipients()) >= len(CUSTOMERS), 180, "every customer's email")
        await wait_for(lambda: _delivered_count_is(stack, len(CUSTOMERS)), 60, "every delivery recorded")
        await asyncio.sleep(12)  # past another lease and a few ticks: nothing more may arrive
        assert inbox.recipients() == sorted(f"{c}@customers.example" for c in CUSTOMERS)
        for message in inbox.accepted:
            assert message["Subject"].endswith(f"SLA statement {month}: {message['To'].split('@')[0]}")
            (pdf,) = list(message.iter_attachments())
            assert pdf.get_content_type() == "application/pdf" and pdf.get_content().startswith(b"%PDF-")

        conn = await stack.connect()
        try:
            attempts = await conn.fetch(
                "SELECT d.event_key, a.attempt, a.finished_at IS NOT NULL AS finished FROM notification_attempts a "
                "JOIN notification_deliveries d ON d.id = a.delivery_id ORDER BY d.event_key, a.attempt"
            )
            keys = await conn.fetch("SELECT event_key FROM statement_deliveries ORDER BY event_key")
        finally:
            await conn.close()
        assert [r["event_key"] for r in keys] == [f"statement:{c}:{month}" for c in CUSTOMERS]  # once per month
        cut_short = [r for r in attempts if not r["finished"]]
        assert len(cut_short) >= 1, "the attempt the crash cut short stays in the log without an outcome"
        retried = {r["event_key"] for r in cut_short}
        assert all(any(a["event_key"] == k and a["finished"] for a in attempts) for k in retried)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    finally:
        inbox.killed.set()
        controller.stop()


async def _delivered_count_is(stack, expected: int) -> bool:
    return await _delivered(stack) == expected
