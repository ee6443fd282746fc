"""Escalation fixtures: the notification receivers and worker (tests/app/notifications/conftest.py),
and policies written through the admin API."""

from __future__ import annotations

import pytest

from tests.app.notifications.conftest import make_receiver, run_worker, smtp  # noqa: F401


@pytest.fixture(autouse=True)
async def clean(conn):
    """Each test starts without policies or escalations (the session database is shared)."""
    await conn.execute("TRUNCATE escalation_policies, incident_escalations, escalation_log")
    yield


async def make_policy(staff, **body) -> dict:
    body = {"id": "test", "name": "test policy", "position": 0, **body}
    r = await staff.client.post("/api/escalation-policies", json=body, headers=await staff.headers("admin"))
    assert r.status_code == 201, r.text
    return r.json()["policy"]
