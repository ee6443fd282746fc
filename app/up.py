"""`slamon up`: the whole stack on one machine for a demo — seeded history, demo targets with
scripted faults, a prober, the worker, the API, the status page and the incident console — until
Ctrl+C."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

from app.config import get_settings

FIRST_CHECK = "SELECT EXISTS (SELECT 1 FROM checks)"
RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
STABLE_RUN_S = 60.0  # a child that ran this long before exiting is restarted after the shortest delay


class _Child:
    """One process of the stack, restarted with back-off whenever it exits: one crashed process
    must not take the demo down with it."""

    def __init__(self, name: str, cmd: list[str]):
        self.name, self.cmd = name, cmd
        self.delay_s = RESTART_MIN_S
        self.restart_at: float | None = None
        self._start()

    def _start(self) -> None:
        self.process = subprocess.Popen(self.cmd, env=os.environ.copy())
        self.started_at = time.monotonic()
        self.restart_at = None

    def tend(self) -> None:
        """Notice an exit (schedule the restart) or restart when its time has come."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                print(f"slamon up: restarting {self.name}", file=sys.stderr, flush=True)
                self._start()
            return
        if self.process.poll() is None:
            return
        if now - self.started_at >= STABLE_RUN_S:
            self.delay_s = RESTART_MIN_S
        print(
            f"slamon up: {self.name} exited with {self.process.returncode}; restarting in {self.delay_s:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        self.restart_at = now + self.delay_s
        self.delay_s = min(self.delay_s * 2, RESTART_MAX_S)

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()

    def wait(self) -> None:
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _slamon(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


async def _seed_if_empty(days: int) -> str | None:
    import asyncpg

    from app.seed import seed

    settings = get_settings()
    conn = await asyncpg.connect(settings.database_url)
    try:
        if await conn.fetchval(FIRST_CHECK):
            return None
        return await seed(conn, days=days, now=datetime.now(timezone.utc), timezone_name=settings.timezone)
    finally:
        await conn.close()


async def _demo_paging(receivers_url: str) -> list[str]:
    import asyncpg

    from app.demo import paging

    conn = await asyncpg.connect(get_settings().database_url)
    try:
        return await paging.install(conn, receivers_url)
    finally:
        await conn.close()


async def _demo_slos() -> list[str]:
    import asyncpg

    from app.slo.definitions import examples

    conn = await asyncpg.connect(get_settings().database_url)
    try:
        return await examples.install(conn)
    finally:
        await conn.close()


def cmd_up(args: argparse.Namespace) -> int:
    if args.seed_days:
        print("seeding demo history (first run only)…", flush=True)
        summary = asyncio.run(_seed_if_empty(args.seed_days))
        print(summary or "history already present, not seeded again", flush=True)
    # The default escalation policy's subscriptions, paging the local receivers beside the targets.
    created = asyncio.run(_demo_paging(f"http://127.0.0.1:{args.targets_port}"))
    if created:
        print(f"demo paging subscriptions added: {', '.join(created)}", flush=True)
    # The SLA document's SLO-001..006 as SLO definitions (an existing demo gets them too).
    installed = asyncio.run(_demo_slos())
    if installed:
        print(f"example SLO definitions added: {', '.join(installed)}", flush=True)
    processes = {
        "targets": _slamon("targets", "--port", str(args.targets_port)),
        "prober": _slamon(
            "prober", "--region", "local", "--id", "local-1", "--health-port", str(args.prober_health_port)
        ),
        "worker": _slamon("worker", "--metrics-port", str(args.worker_metrics_port)),
        "api": _slamon("api", "--host", args.host, "--port", str(args.port)),
        "status page": _slamon("api", "--site", "status", "--host", args.host, "--port", str(args.status_port)),
        "console": _slamon("api", "--site", "console", "--host", args.host, "--port", str(args.console_port)),
    }
    children = {name: _Child(name, cmd) for name, cmd in processes.items()}
    print(
        f"""
SLA Monitor is running:
  status page       http://{args.host}:{args.status_port}/
  incident console  http://{args.host}:{args.console_port}/
  API + Socket.IO   http://{args.host}:{args.port}/api/system-status   (OpenAPI: http://{args.host}:{args.port}/docs)
  prober health     http://127.0.0.1:{args.prober_health_port}/healthz   metrics: http://127.0.0.1:{args.prober_health_port}/metrics
  worker metrics    http://127.0.0.1:{args.worker_metrics_port}/metrics   (API: /metrics on each site, from loopback)
  demo targets      http://127.0.0.1:{args.targets_port}/<service-id>/health
  demo pages        http://127.0.0.1:{args.targets_port}/_receivers/received   (PagerDuty: …/pagerduty/alerts)
Ctrl+C stops everything.""",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for child in children.values():
            child.tend()
        time.sleep(0.5)
    for child in children.values():
        child.terminate()
    for child in children.values():
        child.wait()
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("up", help="run the whole stack locally for a demo (seeds history on first run)")
    p.add_argument("--seed-days", type=int, default=90, help="days of history to seed when empty (0: none)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3001)
    p.add_argument("--status-port", type=int, default=3003)
    p.add_argument("--console-port", type=int, default=3005)
    p.add_argument("--targets-port", type=int, default=3100, help="the demo targets' port")
    p.add_argument("--prober-health-port", type=int, default=3008, help="the prober's /healthz and /metrics port")
    p.add_argument("--worker-metrics-port", type=int, default=3009, help="the worker's /metrics port")
    p.set_defaults(run=cmd_up)
