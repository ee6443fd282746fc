"""`slamon import access-log --service ID [--format alb|nginx] FILE...`: a service's load-balancer or
nginx access logs (plain or gzip) as its API calls. Exit 0: every line imported (or already stored);
1: some lines or files could not be read (each named on stderr with its line number), the rest was
imported; 2: nothing was done (unknown or archived service, a file that cannot be opened)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from app.accesslogs.parsers import FORMATS

if TYPE_CHECKING:
    from app.accesslogs.service import FileResult

PROG = "slamon import access-log"
SHOWN_BAD_LINES = 50  # per file on stderr; the count covers them all


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


async def cmd_import_access_log(args: argparse.Namespace) -> int:
    import asyncpg

    from app.accesslogs import service as accesslogs
    from app.config import get_settings
    from app.services import service as services

    paths = [Path(name) for name in args.files]
    unreadable = [str(p) for p in paths if not p.is_file()]
    if unreadable:
        return _fail(f"no such file: {', '.join(unreadable)}")
    conn = await asyncpg.connect(get_settings().database_url, server_settings={"timezone": "UTC"})
    try:
        service = await services.get(conn, args.service)
        if service is None or not service["is_active"]:
            return _fail(f"unknown or archived service {args.service!r}")
        failed = False
        for path in paths:
            result = await accesslogs.import_file(conn, path, args.service, args.format, now=datetime.now(timezone.utc))
            _report(result)
            failed = failed or bool(result.bad)
    finally:
        await conn.close()
    return 1 if failed else 0


def _report(result: FileResult) -> None:
    for bad in result.bad[:SHOWN_BAD_LINES]:
        print(f"{PROG}: {bad}", file=sys.stderr)
    if len(result.bad) > SHOWN_BAD_LINES:
        print(f"{PROG}: {result.file}: and {len(result.bad) - SHOWN_BAD_LINES} more bad lines", file=sys.stderr)
    print(
        f"{result.file} ({result.format or 'unknown format'}): {result.lines} lines, {result.accepted} imported, "
        f"{result.duplicates} already stored, {len(result.bad)} bad"
    )


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("import", help="import a service's API calls from files")
    isub = p.add_subparsers(dest="import_command", required=True)
    a = isub.add_parser(
        "access-log",
        help="AWS ALB or nginx access logs (plain or gzip) as a service's API calls; idempotent",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("--service", required=True, help="the service the calls were made to")
    a.add_argument("--format", choices=FORMATS, help="default: recognised from each file's first line")
    a.add_argument("files", nargs="+", metavar="FILE")
    a.set_defaults(run=cmd_import_access_log)
