"""`slamon`: one command for every process and admin task."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from datetime import datetime, timezone

from app.config import get_settings
from app.logs import setup_logging


def _parse_ts(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {value!r}") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


async def _connect():
    import asyncpg

    return await asyncpg.connect(get_settings().database_url, server_settings={"timezone": "UTC"})


async def cmd_migrate(args) -> int:
    from app import db
    from app.services.service import CatalogError, load_catalog, sync_catalog

    settings = get_settings()
    try:
        catalog = load_catalog(settings.services_file)
    except CatalogError as exc:
        print(f"slamon migrate: {exc}", file=sys.stderr)
        return 2
    conn = await _connect()
    try:
        applied = await db.migrate(conn)
        synced = await sync_catalog(conn, catalog)
    finally:
        await conn.close()
    print(f"migrations applied: {', '.join(applied) or 'none pending'}")
    print(
        f"services: {len(catalog)} in catalog, {len(synced.inserted)} added, {len(synced.updated)} updated, "
        f"{len(synced.deactivated)} deactivated"
    )
    return 0


async def cmd_ingest_key(args) -> int:
    from app.ingest.service import ensure_key
    from app.services import service as services

    conn = await _connect()
    try:
        if await services.get(conn, args.service_id) is None:
            print(f"slamon ingest-key: unknown service {args.service_id!r}", file=sys.stderr)
            return 2
        print(await ensure_key(conn, get_settings().resolved_secret_key(), args.service_id))
    finally:
        await conn.close()
    return 0


async def cmd_rollups_refresh(args) -> int:
    from app.rollups import service as rollups

    settings = get_settings()
    conn = await _connect()
    try:
        if args.from_ or args.to:
            start = args.from_ or rollups.FAR_PAST
            end = args.to or rollups.FAR_FUTURE
            await rollups.invalidate_range(conn, start, end)
        reports = await rollups.refresh(
            conn,
            settings.timezone,
            datetime.now(timezone.utc),
            grace=rollups.timedelta(seconds=settings.rollup_grace_s),
        )
    finally:
        await conn.close()
    for r in reports:
        print(
            f"{r.rollup}: materialised up to {r.watermark.isoformat() if r.watermark else '-'}, "
            f"{r.ranges_recomputed} invalidated range(s) recomputed"
        )
    return 0


async def cmd_seed(args) -> int:
    from app.seed import seed

    settings = get_settings()
    conn = await _connect()
    try:
        summary = await seed(
            conn,
            days=args.days,
            now=datetime.now(timezone.utc),
            seed_value=args.random_seed,
            timezone_name=settings.timezone,
        )
    finally:
        await conn.close()
    print(summary)
    return 0


def cmd_api(args) -> int:
    import uvicorn

    from app.main import create_app
    from app.web.sites import DEFAULT_PORTS

    from app.realtime.publisher import tune_gc_for_fan_out

    port = args.port or DEFAULT_PORTS[args.site]
    app = create_app(get_settings(), site=args.site)
    tune_gc_for_fan_out()
    uvicorn.run(
        app,
        host=args.host,
        port=port,
        log_level="warning",
        proxy_headers=True,
        ws=args.ws,
        ws_per_message_deflate=args.ws_deflate,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slamon", description="SLA Monitor")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply pending SQL migrations and sync services.toml").set_defaults(run=cmd_migrate)

    p = sub.add_parser("seed", help="write realistic demo history through the ingest module")
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--random-seed", type=int, default=7)
    p.set_defaults(run=cmd_seed)

    p = sub.add_parser("api", help="serve the REST API, Socket.IO and a site's pages")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="default: 3001 api, 3003 status, 3005 console")
    p.add_argument(
        "--site",
        choices=("api", "status", "console"),
        default="api",
        help="pages served at / besides the API (status page, incident console)",
    )
    p.add_argument(
        "--ws",
        choices=("auto", "websockets-sansio", "websockets", "wsproto"),
        default="auto",
        help="uvicorn's WebSocket implementation (auto: websockets-sansio, the cheapest per frame)",
    )
    p.add_argument(
        "--ws-deflate",
        action="store_true",
        help="accept permessage-deflate (off by default: it compresses every frame once per socket)",
    )
    p.set_defaults(run=cmd_api)

    p = sub.add_parser("ingest-key", help="print a service's ingest key, creating it once")
    p.add_argument("service_id")
    p.set_defaults(run=cmd_ingest_key)

    p = sub.add_parser("rollups", help="rollup maintenance")
    rsub = p.add_subparsers(dest="rollups_command", required=True)
    r = rsub.add_parser("refresh", help="materialise rollups now; --from/--to recompute a range first")
    r.add_argument("--from", dest="from_", type=_parse_ts)
    r.add_argument("--to", type=_parse_ts)
    r.set_defaults(run=cmd_rollups_refresh)

    # Commands of the other processes live beside their code (prober/cli.py, workers/cli.py).
    for module_name in ("app.up", "prober.cli", "workers.cli", "app.users.cli", "app.reports.cli"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not module_name.startswith(exc.name or "\0"):
                raise  # a missing dependency inside the module, not a module not (yet) there
            continue
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(get_settings().log_format)
    result = args.run(args)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
