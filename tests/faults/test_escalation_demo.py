"""The default escalation policy end to end in the demo (`slamon up`, real processes on a private stack):
a demo target goes down, the prober and the worker open a P1, level 1 pages the automation hook at
once and level 2 pages on-call through the local PagerDuty Events API v2 receiver at its delay, even
though the worker is SIGKILLed in between (`slamon up` starts a new one; the state is in the database):
within 10 s of the incident's start + the delay. An acknowledgement through the console site's API
(what its Acknowledge button calls) stops level 3; resolving the incident resolves the PagerDuty
alert; the incident's timeline holds every step. The policy is escalation.toml's default with its
delays shortened (300/900/1800 s become 30/90/180 s)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from app.demo.receivers import PREFIX
from tests.conftest import free_port
from tests.faults.conftest import ROOT, _children_of, wait_for, wait_gone
from tests.faults.test_up_restarts import _child

pytestmark = pytest.mark.slow
SHORTER = {0: 0, 300: 30, 900: 90, 1800: 180}
TOLERANCE_S = 10
SERVICE = "face-compare"
PASSWORD = "demo-admin-password-123"


def _config(tmp_path: Path, targets_port: int) -> dict[str, str]:
    escalation = (ROOT / "escalation.toml").read_text()
    escalation = re.sub(r"delay_seconds = (\d+)", lambda m: f"delay_seconds = {SHORTER[int(m[1])]}", escalation)
    (tmp_path / "escalation.toml").write_text(escalation)
    (tmp_path / "services.toml").write_text(
        f"""[[services]]
id = "{SERVICE}"
name = "Face Compare"
url = "http://127.0.0.1:{targets_port}/{SERVICE}/health"
interval_s = 10
timeout_s = 5
tier = "enterprise"
allow_private = true
"""
    )
    return {
        "SLAMON_ESCALATION_FILE": str(tmp_path / "escalation.toml"),
        "SLAMON_SERVICES_FILE": str(tmp_path / "services.toml"),
    }


def _run(stack, env: dict[str, str], *args: str, stdin: str = "") -> None:
    subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=stack.app_env(**env),
        input=stdin,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _json(session: aiohttp.ClientSession, url: str):
    try:
        async with session.get(url) as response:
            return await response.json() if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


async def test_default_policy_pages_acknowledges_and_resolves_across_a_worker_restart(stack, tmp_path):
    ports = {
        name: free_port() for name in ("port", "status-port", "console-port", "targets-port", "prober-health-port")
    }
    env = _config(tmp_path, ports["targets-port"])
    _run(stack, env, "migrate")
    _run(stack, env, "user", "create", "ops-admin", "--role", "admin", stdin=PASSWORD + "\n")
    up = stack.slamon("up", "--seed-days", "0", *(f"--{k}={v}" for k, v in ports.items()), log_name="up", **env)
    api = f"http://127.0.0.1:{ports['port']}"
    console = f"http://127.0.0.1:{ports['console-port']}"
    targets = f"http://127.0.0.1:{ports['targets-port']}"
    conn = await stack.connect()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await wait_for(lambda: _json(session, f"{api}/api/health/live"), 90, "the stack's API")
        await wait_for(lambda: _answers(session, f"{targets}{PREFIX}/received"), 30, "the demo receivers")
        async with session.post(f"{targets}/{SERVICE}/control", json={"mode": "down", "seconds": 900}) as r:
            assert r.status == 200

        # A P1 opens; level 1 (0 s) pages the automation hook.
        incident = await wait_for(
            lambda: conn.fetchrow("SELECT id, priority, created_at FROM incidents WHERE status <> 'resolved'"),
            150,
            "the outage's incident",
        )
        assert incident["priority"] == "P1"
        started = incident["created_at"].timestamp()

        async def received(path_end: str, event: str) -> list[dict]:
            entries = await _json(session, f"{targets}{PREFIX}/received") or []
            return [e for e in entries if e["path"].endswith(path_end) and e["event"] == event]

        [level_1] = await wait_for(lambda: received("/hooks/automation", "escalation.paged"), 30, "level 1")
        assert level_1["body"]["data"]["escalation"]["level"] == 1
        assert level_1["at"] - started <= TOLERANCE_S

        # The worker is killed once level 1 is recorded delivered; `slamon up` starts another.
        await wait_for(
            lambda: conn.fetchval("SELECT count(*) FROM notification_deliveries WHERE status = 'delivered'"),
            30,
            "level 1's delivery recorded",
        )
        worker = await wait_for(lambda: _child(up.pid, "worker"), 10, "the worker child")
        os.kill(worker, signal.SIGKILL)
        wait_gone([worker])
        restarted = await wait_for(lambda: _child(up.pid, "worker"), 30, "the worker to come back")
        assert restarted != worker

        # Level 2 (30 s): on-call through the PagerDuty receiver, on time.
        [trigger] = await wait_for(lambda: received("/pagerduty/v2/enqueue", "escalation.paged"), 90, "level 2")
        assert abs(trigger["at"] - (started + SHORTER[300])) <= TOLERANCE_S, trigger["at"] - started
        dedup = f"slamon-incident-{incident['id']}"
        assert trigger["body"]["event_action"] == "trigger" and trigger["body"]["dedup_key"] == dedup
        alerts = await _json(session, f"{targets}{PREFIX}/pagerduty/alerts")
        assert alerts[dedup]["status"] == "triggered"

        # Acknowledged in the console (its button posts to the console site's API) before level 3.
        async with session.post(f"{console}/api/auth/login", json={"username": "ops-admin", "password": PASSWORD}) as r:
            token = (await r.json())["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        async with session.post(f"{console}/api/incidents/{incident['id']}/acknowledge", headers=headers) as r:
            assert r.status == 200, await r.text()
        alert = await wait_for(
            lambda: _alert_in(session, targets, dedup, "acknowledged"), 30, "the PagerDuty alert acknowledged"
        )
        assert alert["events"] == ["trigger", "acknowledge"]

        # Past level 3's delay (90 s) and a tick: the engineering manager was never paged.
        await wait_for(lambda: time.time() > started + SHORTER[900] + 6, 120, "level 3's time")
        assert await received("/hooks/engineering-manager", "escalation.paged") == []

        # The target recovers and the incident is resolved: the PagerDuty alert resolves.
        async with session.post(f"{targets}/{SERVICE}/control", json={"mode": "ok", "seconds": 900}) as r:
            assert r.status == 200
        async with session.get(f"{console}/api/incidents/{incident['id']}", headers=headers) as r:
            version = (await r.json())["incident"]["version"]
        body = {"status": "resolved", "note": "recovered", "version": version}
        async with session.put(f"{console}/api/incidents/{incident['id']}", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
        alert = await wait_for(lambda: _alert_in(session, targets, dedup, "resolved"), 30, "the alert resolved")
        assert alert["events"] == ["trigger", "acknowledge", "resolve"]

        async with session.get(f"{console}/api/incidents/{incident['id']}/escalation", headers=headers) as r:
            timeline = (await r.json())["escalation"]["timeline"]
        assert [(e["action"], e["level"]) for e in timeline] == [
            ("started", None),
            ("paged", 1),
            ("paged", 2),
            ("acknowledged", None),
            ("resolved", None),
        ]
        assert timeline[3]["actor"] == "ops-admin"
    await conn.close()
    children = _children_of(up.pid)
    up.send_signal(signal.SIGTERM)
    assert up.wait(timeout=60) == 0
    wait_gone(children, timeout=30)
    assert "restarting worker" in stack.log("up") or "restarting in" in stack.log("up")


async def _answers(session: aiohttp.ClientSession, url: str) -> bool:
    return await _json(session, url) is not None


async def _alert_in(session: aiohttp.ClientSession, targets: str, dedup: str, status: str) -> dict | None:
    alerts = await _json(session, f"{targets}{PREFIX}/pagerduty/alerts") or {}
    alert = alerts.get(dedup)
    return alert if alert and alert["status"] == status else None
