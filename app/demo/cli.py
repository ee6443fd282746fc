"""`slamon targets`, registered by app/cli.py."""

from __future__ import annotations

import argparse
import asyncio
import signal


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("targets", help="serve the five demo Verify services with scripted faults")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3100)
    p.set_defaults(run=cmd_targets)


async def cmd_targets(args: argparse.Namespace) -> int:
    from app.demo import targets

    runner = await targets.serve(args.host, args.port)
    print(
        f"demo targets on http://{args.host}:{args.port}/<service-id>/health ({', '.join(targets.SERVICE_IDS)})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    return 0
