"""`slamon`: one command for every process and admin task."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from app.config import get_settings
from app.logs import setup_logging

if TYPE_CHECKING:  # the commands import what they use when they run: `slamon --help` stays quick
    import asyncpg

    from app.ingest.keys import Actor


def _parse_ts(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {value!r}") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


async def _connect() -> asyncpg.Connection:
    import asyncpg

    return await asyncpg.connect(get_settings().database_url, server_settings={"timezone": "UTC"})


async def cmd_migrate(args: argparse.Namespace) -> int:
    from app import db
    from app.customers.service import CustomersFileError, load_customers, sync_customers
    from app.escalation.service import PolicyFileError, load_policies, sync_policies
    from app.oncall.service import ScheduleFileError, load_schedules, sync_schedules
    from app.services.service import CatalogError, load_catalog, sync_catalog

    settings = get_settings()
    try:
        catalog = load_catalog(settings.services_file)
        customers = load_customers(settings.customers_file)
        policies = load_policies(settings.escalation_file)
        schedules = load_schedules(settings.escalation_file)
    except (CatalogError, CustomersFileError, PolicyFileError, ScheduleFileError) as exc:
        print(f"slamon migrate: {exc}", file=sys.stderr)
        return 2
    conn = await _connect()
    try:
        applied = await db.migrate(conn, backend=settings.rollup_backend)
        synced = await sync_catalog(conn, catalog)
        contracts = await sync_customers(conn, settings.customers_file, customers)
        changed, deleted = await sync_policies(conn, policies)
        rotas_changed, rotas_deleted = await sync_schedules(conn, schedules)
    except (db.MigrationError, CustomersFileError) as exc:
        print(f"slamon migrate: {exc}", file=sys.stderr)
        return 2
    finally:
        await conn.close()
    print(f"migrations applied: {', '.join(applied) or 'none pending'}")
    print(
        f"services: {len(catalog)} in catalog, {len(synced.inserted)} added, {len(synced.updated)} updated, "
        f"{len(synced.deactivated)} deactivated"
    )
    print(
        f"customers: {len(customers)} in customers.toml, {len(contracts.inserted)} added, "
        f"{len(contracts.updated)} updated, {len(contracts.removed)} removed"
    )
    print(f"escalation policies: {len(policies)} in escalation.toml, {len(changed)} changed, {len(deleted)} deleted")
    print(
        f"on-call schedules: {len(schedules)} in escalation.toml, {len(rotas_changed)} changed, "
        f"{len(rotas_deleted)} deleted"
    )
    return 0


def _cli_actor() -> Actor:
    import getpass

    from app.ingest.keys import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}")


async def cmd_ingest_key(args: argparse.Namespace) -> int:
    from app.ingest import keys
    from app.services import service as services

    conn = await _connect()
    try:
        service = await services.get(conn, args.service_id)
        if service is None:
            print(f"slamon ingest-key: unknown service {args.service_id!r}", file=sys.stderr)
            return 2
        if args.key_command in ("create", "rotate") and not service["is_active"]:
            print(
                f"slamon ingest-key: service {args.service_id!r} is archived: it takes no ingest keys", file=sys.stderr
            )
            return 2
        if args.key_command == "list":
            listed = await keys.list_keys(conn, args.service_id)
            for listed_key in listed.keys:
                revoked_at, revoked_by = listed_key.revoked_at, listed_key.revoked_by
                state = f"revoked {revoked_at:%Y-%m-%d %H:%M} by {revoked_by}" if revoked_at else "active"
                print(
                    f"{listed_key.id}\t{listed_key.prefix}\t{listed_key.created_at:%Y-%m-%d %H:%M}\t"
                    f"{listed_key.created_by}\t{state}"
                )
            if listed.derived_key_active:
                print(f"-\tslk.{args.service_id} (derived key of before sql/112)\t-\t-\tactive until rotated")
        elif args.key_command == "revoke":
            revoked = await keys.revoke(conn, args.service_id, _cli_actor(), args.key_id)
            print(f"revoked: {', '.join(revoked) or 'nothing (no active key)'}", file=sys.stderr)
            return 0 if revoked or args.key_id is None else 2
        else:
            key, _ = await keys.issue(conn, args.service_id, _cli_actor(), revoke_others=args.key_command == "rotate")
            print(key)
    finally:
        await conn.close()
    return 0


async def cmd_rollups_refresh(args: argparse.Namespace) -> int:
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
            grace=timedelta(seconds=settings.rollup_grace_s),
        )
    finally:
        await conn.close()
    for r in reports:
        print(
            f"{r.rollup}: materialised up to {r.watermark.isoformat() if r.watermark else '-'}, "
            f"{r.ranges_recomputed} invalidated range(s) recomputed"
        )
    return 0


async def cmd_seed(args: argparse.Namespace) -> int:
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


def cmd_backup(args: argparse.Namespace) -> int:
    from app import backup

    repo = backup.Repo.from_settings(get_settings())
    try:
        if args.list:
            backups = backup.list_backups(repo)
            for b in backups:
                damaged = "  (damaged pages copied as found)" if b.page_errors else ""
                print(f"{b.label}  {b.type:4}  {b.started_at.isoformat()} .. {b.stopped_at.isoformat()}{damaged}")
            print(f"earliest restorable time: {backups[0].restorable_from.isoformat()}" if backups else "no backups")
            return 0
        taken, warnings = backup.backup(repo, args.type, datetime.now(timezone.utc))
    except backup.BackupError as exc:
        print(f"slamon backup: {exc}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"slamon backup: {warning}", file=sys.stderr)
    print(f"backup {taken.label} ({taken.type}) completed {taken.stopped_at.isoformat()}")
    if taken.page_errors:
        print(
            f"slamon backup: {taken.label} holds pages whose checksum failed (copied as found; see the warnings "
            "above): the cluster's storage is damaged",
            file=sys.stderr,
        )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from app import backup

    if args.start and args.port is None:
        print("slamon restore: --start needs --port (the restored cluster runs beside the live one)", file=sys.stderr)
        return 2
    repo = backup.Repo.from_settings(get_settings())
    try:
        chosen = backup.restore(repo, args.to, args.pg_data, datetime.now(timezone.utc), port=args.port)
        print(f"restored backup {chosen.label} into {args.pg_data}; recovery replays WAL to {args.to.isoformat()}")
        if args.start:
            backup.start_restored(args.pg_data.resolve(), args.port, timeout_s=args.timeout)
            print(f"restored cluster running on port {args.port}, recovered to {args.to.isoformat()} and promoted")
        else:
            # Without --port the copy keeps the live cluster's port and socket directory from its postgresql.conf.
            beside = (
                "" if args.port is not None else " (without --port it has the live cluster's port: change it first)"
            )
            print(
                f"start it as the postgres user: pg_ctl -D {args.pg_data.resolve()} start; it recovers, then "
                f"promotes{beside}"
            )
    except backup.BackupError as exc:
        # A time no backup reaches, a non-empty directory: the caller's input (2); pgBackRest failing: 1.
        print(f"slamon restore: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, backup.RestoreRefused) else 1
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
    from app.realtime.publisher import tune_gc_for_fan_out
    from app.web.sites import DEFAULT_PORTS

    port = args.port or DEFAULT_PORTS[args.site]
    app = create_app(get_settings(), site=args.site)
    tune_gc_for_fan_out()
    uvicorn.run(
        app,
        host=args.host,
        port=port,
        log_level="warning",
        ws=args.ws,
        # Forwarded headers are read by the app, from settings.trusted_proxies only (app.main)
        proxy_headers=False,
        ws_per_message_deflate=args.ws_deflate,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slamon", description="SLA Monitor")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser(
        "migrate", help="apply pending SQL migrations and sync services.toml and escalation.toml"
    ).set_defaults(run=cmd_migrate)

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

    p = sub.add_parser("ingest-key", help="a service's ingest keys: create, rotate, revoke, list (audited)")
    ksub = p.add_subparsers(dest="key_command", required=True)
    for name, text in (
        ("create", "print a new key, keeping the service's other keys (overlap while switching)"),
        ("rotate", "print a new key and revoke the service's other keys"),
        ("revoke", "revoke the service's keys (all, or --id N)"),
        ("list", "the service's keys: id, prefix, created, by, state (never the keys)"),
    ):
        k = ksub.add_parser(name, help=text)
        k.add_argument("service_id")
        if name == "revoke":
            k.add_argument("--id", dest="key_id", type=int, help="the key's id (slamon ingest-key list)")
        k.set_defaults(run=cmd_ingest_key)

    p = sub.add_parser("rollups", help="rollup maintenance")
    rsub = p.add_subparsers(dest="rollups_command", required=True)
    r = rsub.add_parser("refresh", help="materialise rollups now; --from/--to recompute a range first")
    r.add_argument("--from", dest="from_", type=_parse_ts)
    r.add_argument("--to", type=_parse_ts)
    r.set_defaults(run=cmd_rollups_refresh)

    p = sub.add_parser("backup", help="take a pgBackRest backup (default: a full one weekly, else a differential)")
    p.add_argument("--type", choices=("full", "diff", "incr"), help="default: the type that is due")
    p.add_argument("--list", action="store_true", help="list the backups and the earliest restorable time")
    p.set_defaults(run=cmd_backup)

    p = sub.add_parser("restore", help="restore the database as it was at a point in time into a new data directory")
    p.add_argument("--to", type=_parse_ts, required=True, help="ISO 8601 time (UTC unless it has an offset)")
    p.add_argument("--pg-data", type=Path, required=True, help="new (absent or empty) data directory")
    p.add_argument("--port", type=int, help="port of the restored cluster (needed to --start it beside the live one)")
    p.add_argument("--start", action="store_true", help="start it and wait until it has recovered to --to")
    p.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the recovery (default 3600)")
    p.set_defaults(run=cmd_restore)

    # Commands of the other processes live beside their code (prober/cli.py, workers/cli.py, app/demo/cli.py).
    from app import up
    from app.accesslogs import cli as accesslogs_cli
    from app.demo import cli as demo_cli
    from app.reports import cli as reports_cli
    from app.slo.definitions import cli as slo_cli
    from app.users import cli as users_cli
    from prober import cli as prober_cli
    from workers import cli as workers_cli

    for module in (up, prober_cli, demo_cli, workers_cli, users_cli, reports_cli, accesslogs_cli, slo_cli):
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
