"""The SSRF guard at delivery time, on the address actually connected to: receivers that passed
creation (or were written before a DNS change) are still refused, and nothing reaches them."""

import pytest

from tests.app.notifications.conftest import delivery_rows, wait_until

INCIDENT = {"title": "Outage", "severity": "high", "affected_services": ["face-compare"]}


async def _subscription_row(conn, url: str, allow_private: bool) -> int:
    # Written directly: as if the name had resolved to a public address when it was created.
    return await conn.fetchval(
        """INSERT INTO subscriptions (name, kind, url, secret, allow_private)
                                  VALUES ('r', 'webhook', $1, 'a secret of enough length', $2) RETURNING id""",
        url,
        allow_private,
    )


@pytest.mark.parametrize(
    "host, allow_private, reason",
    [
        ("localhost", False, "loopback"),  # a DNS name resolving to loopback
        ("127.0.0.1", False, "loopback"),
        ("169.254.169.254", True, "cloud metadata"),  # metadata even with the opt-in
    ],
)
async def test_forbidden_receivers_are_refused_at_delivery(
    staff, make_receiver, run_worker, host, allow_private, reason
):
    receiver = await make_receiver()
    await _subscription_row(staff.conn, receiver.url.replace("127.0.0.1", host), allow_private)
    await run_worker()
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))

    async def failed():
        rows = await delivery_rows(staff.conn)
        return rows if rows and rows[0]["status"] == "failed" else None

    [row] = await wait_until(failed)
    assert reason in row["last_error"] and row["attempts"] == 1  # refused for good, not retried
    assert receiver.requests == []


async def test_loopback_with_the_opt_in_is_delivered(staff, make_receiver, run_worker):
    receiver = await make_receiver()
    await _subscription_row(staff.conn, receiver.url.replace("127.0.0.1", "localhost"), True)
    await run_worker()
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    await receiver.wait_for(1)
