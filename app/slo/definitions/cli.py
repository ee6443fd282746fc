"""`slamon slo apply -f FILE [-f FILE...] [--dry-run] [--prune]` and `slamon slo export [--name N...]
[-o FILE] [--with-tiers]`: SLO definitions as OpenSLO v1 YAML (docs/slos.md).

apply reads every file first and stores all their SLOs in one transaction, or nothing when any
problem is found (each printed on stderr, naming the file, the object, the SLO and the field).
Exit 0: applied (or, with --dry-run, would apply); 1: problems, nothing applied; 2: a file cannot
be read or a name is unknown."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.slo.definitions.model import Definition

PROG = "slamon slo"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cmd_apply(args: argparse.Namespace) -> int:
    sources = []
    for name in args.files:
        try:
            sources.append((name, Path(name).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{PROG} apply: cannot read {name}: {exc}", file=sys.stderr)
            return 2
    return asyncio.run(_apply(args, sources))


async def _apply(args: argparse.Namespace, sources: list[tuple[str, str]]) -> int:
    import asyncpg

    from app.config import get_settings
    from app.slo.definitions import openslo

    settings = get_settings()
    conn = await asyncpg.connect(settings.database_url, server_settings={"timezone": "UTC"})
    try:
        definitions = await openslo.parse_for(conn, sources, settings.timezone)
        outcomes = await openslo.apply(
            conn, definitions, "openslo", openslo.Actor(f"cli:{_user()}"), prune=args.prune, dry_run=args.dry_run
        )
    except openslo.OpenSloError as exc:
        for problem in exc.problems:
            print(f"{PROG} apply: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(f"{PROG} apply: {count} problem{'s' if count != 1 else ''}: nothing applied", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    suffix = " (dry run)" if args.dry_run else ""
    for name, outcome in outcomes.items():
        print(f"{name}: {outcome}{suffix}")
    counts = {o: sum(1 for v in outcomes.values() if v == o) for o in ("created", "updated", "unchanged", "deleted")}
    print(", ".join(f"{n} {o}" for o, n in counts.items()) + suffix, file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from app.config import get_settings
    from app.errors import ApiError
    from app.slo.definitions import openslo

    try:
        definitions = asyncio.run(_export_set(args))
    except ApiError as exc:
        print(f"{PROG} export: {exc.message}", file=sys.stderr)
        return 2
    text = openslo.export(definitions, get_settings().timezone)
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(definitions)} SLO definition(s) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _export_set(args: argparse.Namespace) -> list[Definition]:
    import asyncpg

    from app.config import get_settings
    from app.slo.definitions import admin

    conn = await asyncpg.connect(get_settings().database_url, server_settings={"timezone": "UTC"})
    try:
        return await admin.export_set(conn, args.names or [], args.with_tiers)
    finally:
        await conn.close()


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "slo",
        help="SLO definitions as OpenSLO v1 YAML: apply, export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ssub = p.add_subparsers(dest="slo_command", required=True)
    a = ssub.add_parser("apply", help="create or update SLO definitions from OpenSLO v1 files, all or nothing")
    a.add_argument("-f", "--file", dest="files", action="append", required=True, metavar="FILE")
    a.add_argument("--dry-run", action="store_true", help="check and show what would change; store nothing")
    a.add_argument("--prune", action="store_true", help="delete the stored definitions the files do not hold")
    a.set_defaults(run=cmd_apply)
    e = ssub.add_parser("export", help="the stored SLO definitions as OpenSLO v1 YAML")
    e.add_argument("--name", dest="names", action="append", metavar="NAME", help="only this one (repeatable)")
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    e.add_argument("--with-tiers", action="store_true", help="the built-in tier definitions too")
    e.set_defaults(run=cmd_export)
