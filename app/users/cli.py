"""`slamon user create USERNAME --role ROLE [--email E]`: the password is read from stdin
(one line; a terminal is prompted without echo), never from the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from pydantic import ValidationError


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("slamon user create: passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def cmd_user_create(args: argparse.Namespace) -> int:
    import asyncpg

    from app.config import get_settings
    from app.errors import ApiError
    from app.users import service
    from app.users.models import UserCreate

    try:
        data = UserCreate(username=args.username, role=args.role, email=args.email, password=_read_password())
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"slamon user create: {problems}", file=sys.stderr)
        return 2
    conn = await asyncpg.connect(get_settings().database_url, server_settings={"timezone": "UTC"})
    try:
        user = await service.create(conn, data, None)
    except ApiError as exc:
        print(f"slamon user create: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    print(f"created {user.role} {user.username} ({user.id})")
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("user", help="user accounts")
    usub = p.add_subparsers(dest="user_command", required=True)
    c = usub.add_parser("create", help="create an account; the password is read from stdin")
    c.add_argument("username")
    c.add_argument("--role", required=True, choices=["admin", "reporter", "viewer"])
    c.add_argument("--email")
    c.set_defaults(run=cmd_user_create)


def run_sync(argv: list[str]) -> int:
    """Entry for tests: parse and run one `user` command."""
    parser = argparse.ArgumentParser(prog="slamon")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = asyncio.run(args.run(args))
    return status
