"""`slamon up`: the whole stack on one machine for a demo — seeded history, demo targets with
scripted faults, a prober, the worker, the API, the status page and the incident console — until
Ctrl+C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

from app.config import get_settings

FIRST_CHECK = "SELECT EXISTS (SELECT 1 FROM checks)"


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


def cmd_up(args) -> int:
    if args.seed_days:
        print("seeding demo history (first run only)…", flush=True)
        summary = asyncio.run(_seed_if_empty(args.seed_days))
        print(summary or "history already present, not seeded again", flush=True)
    processes = {
        "targets": _slamon("targets", "--port", "3100"),
        "prober": _slamon("prober", "--region", "local", "--id", "local-1", "--health-port", "3008"),
        "worker": _slamon("worker"),
        "api": _slamon("api", "--host", args.host, "--port", str(args.port)),
        "status page": _slamon("api", "--site", "status", "--host", args.host, "--port", str(args.status_port)),
        "console": _slamon("api", "--site", "console", "--host", args.host, "--port", str(args.console_port)),
    }
    children = {name: subprocess.Popen(cmd, env=os.environ.copy()) for name, cmd in processes.items()}
    print(
        f"""
SLA Monitor is running:
  status page       http://{args.host}:{args.status_port}/
  incident console  http://{args.host}:{args.console_port}/
  API + Socket.IO   http://{args.host}:{args.port}/api/system-status   (OpenAPI: http://{args.host}:{args.port}/docs)
  prober health     http://127.0.0.1:3008/healthz   metrics: http://127.0.0.1:3008/metrics
  demo targets      http://127.0.0.1:3100/<service-id>/health
Ctrl+C stops everything.""",
        flush=True,
    )
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"slamon up: {name} exited with {child.returncode}; stopping", file=sys.stderr)
                stopping = True
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    for child in children.values():
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("up", help="run the whole stack locally for a demo (seeds history on first run)")
    p.add_argument("--seed-days", type=int, default=90, help="days of history to seed when empty (0: none)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3001)
    p.add_argument("--status-port", type=int, default=3003)
    p.add_argument("--console-port", type=int, default=3005)
    p.set_defaults(run=cmd_up)
