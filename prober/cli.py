"""`slamon prober`, registered by app/cli.py."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import uuid

from app.config import get_settings

log = logging.getLogger(__name__)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("prober", help="run a prober of a region (any number per region, on any machine)")
    p.add_argument("--region", required=True, help="region name, e.g. seoul")
    p.add_argument("--id", dest="prober_id", help="stable prober id (default: host-pid-random)")
    p.add_argument("--health-port", type=int, default=3008)
    p.add_argument("--health-host", default="127.0.0.1")
    p.add_argument("--heartbeat", type=float, default=5.0, help="heartbeat period in seconds")
    p.add_argument("--max-concurrency", type=int, default=2000)
    p.set_defaults(run=cmd_prober)


async def cmd_prober(args: argparse.Namespace) -> int:
    from app.services.service import CatalogError, load_catalog
    from prober import health
    from prober.runner import Prober, ProberOptions
    from prober.spool import SpoolLocked

    settings = get_settings()
    try:
        load_catalog(settings.services_file)  # refuse to start on an invalid catalog, naming file/service/field
    except CatalogError as exc:
        print(f"slamon prober: {exc}", file=sys.stderr)
        return 2
    prober_id = args.prober_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    options = ProberOptions(
        region=args.region,
        prober_id=prober_id,
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        data_dir=settings.data_dir,
        heartbeat_s=args.heartbeat,
        ttl_s=3 * args.heartbeat,
        max_concurrency=args.max_concurrency,
        realtime_channel=settings.realtime_channel,
    )
    try:
        prober = Prober(options)
    except SpoolLocked as exc:
        print(f"slamon prober: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await prober.start()
    site = await health.serve(prober, args.health_host, args.health_port)
    await stop.wait()
    log.info("stopping", extra={"region": args.region, "job": "prober"})
    await prober.stop()
    await site.cleanup()
    return 0
