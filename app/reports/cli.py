"""`slamon report`: write a month's report in any format; `slamon report revise` corrects a closed
month (revision N+1, audited); `slamon report close` runs the month close now (the services' reports,
then the customers' statements); `slamon report statement` writes a customer's monthly statement;
`slamon report deliver` sends a closed month's statements to the customers now."""

from __future__ import annotations

import getpass
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from app.contract import JsonObject

if TYPE_CHECKING:  # the commands import what they use when they run: `slamon --help` stays quick
    from argparse import ArgumentParser, Namespace, _SubParsersAction
    from collections.abc import Awaitable, Callable
    from zoneinfo import ZoneInfo

    from asyncpg import Connection, Record

    from app.config import Settings
    from app.customers.delivery import Planned
    from app.periods import Period

    # what a command does with the service and month it names: (conn, settings, service, month, now) -> exit code
    Work = Callable[[Connection, Settings, Record, Period, datetime], Awaitable[int]]

PROG = "slamon report"


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def _ended_month(text: str, zone: ZoneInfo, now: datetime, why: str = "") -> Period | str:
    """--month as a month that has ended (a Period), or the message saying why not (a str)."""
    from app.errors import ApiError
    from app.reports import service as reports

    try:
        period = reports.parse_month(text, zone, now, "--month")
    except ApiError as exc:
        return exc.message
    return f"--month {period.label} has not ended yet{why}" if now < period.end else period


async def _with_service(args: Namespace, service_id: str, month_text: str, work: Work) -> int:
    """Connect, resolve the service and the month, run `work(conn, settings, service, period, now)`."""
    import asyncpg

    from app.config import get_settings
    from app.errors import ApiError
    from app.reports import service as reports
    from app.services import service as services

    settings = get_settings()
    now = datetime.now(timezone.utc)
    conn = await asyncpg.connect(settings.database_url, server_settings={"timezone": "UTC"})
    try:
        svc = await services.get(conn, service_id)
        if svc is None:
            return _fail(f"unknown service {service_id!r}")
        try:
            period = reports.parse_month(month_text, settings.zone, now, "--month")
            return await work(conn, settings, svc, period, now)
        except ApiError as exc:
            return _fail(exc.message, 2 if exc.status == 422 else 1)
    finally:
        await conn.close()


async def cmd_report(args: Namespace) -> int:
    from app.reports import pdf, render
    from app.reports import service as reports
    from app.reports.pdf import PdfUnavailable

    if args.report_command is None and not (args.report_service and args.report_month):
        return _fail("give --service ID and --month YYYY-MM (or a subcommand: revise, close)")

    async def work(conn: Connection, settings: Settings, svc: Record, period: Period, now: datetime) -> int:
        doc = await reports.get(conn, svc, period, now, settings.timezone, args.revision)
        try:
            body = await render.as_bytes(doc, args.format, args.lang, settings.chromium_path)
        except PdfUnavailable as exc:
            return _fail(str(exc), 1)
        finally:
            await pdf.shutdown()
        _write(body, args.output, args.format, doc["report"])
        return 0

    return await _with_service(args, args.report_service, args.report_month, work)


async def cmd_revise(args: Namespace) -> int:
    from app.reports import service as reports

    async def work(conn: Connection, settings: Settings, svc: Record, period: Period, now: datetime) -> int:
        created = await reports.revise(
            conn,
            svc,
            period,
            now,
            settings.timezone,
            args.reason,
            args.author or _system_user(),
            settings.raw_retention_days,
        )
        print(
            f"{created.service_id} {created.month}: revision {created.revision} frozen "
            f"at {created.frozen_at} by {created.author}"
        )
        return 0

    return await _with_service(args, args.service, args.month, work)


async def cmd_close(args: Namespace) -> int:
    import asyncpg

    from app.config import get_settings
    from app.reports import service as reports

    settings = get_settings()
    now = datetime.now(timezone.utc)
    conn = await asyncpg.connect(settings.database_url, server_settings={"timezone": "UTC"})
    try:
        if args.month:
            period = _ended_month(args.month, settings.zone, now)
            if isinstance(period, str):
                return _fail(period)
            closed = {period.label: await reports.close_month(conn, period, now, settings.timezone)}
        else:
            closed = await reports.close_due_months(
                conn, now, settings.timezone, settings.zone, timedelta(seconds=settings.report_close_grace_s)
            )
    finally:
        await conn.close()
    for label, ids in closed.items():
        print(f"{label}: {len(ids)} report(s) frozen" + (f" ({', '.join(ids)})" if ids else " (already closed)"))
    if not closed:
        print("no month is due (or another month close is running)")
    return 0


def _write(body: bytes, output: str | None, fmt: str, meta: JsonObject) -> None:
    if output in (None, "-"):
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    Path(output).write_bytes(body)
    status = meta["status"]
    print(
        f"{output}: {fmt}, {len(body)} bytes, {status}"
        + (f" revision {meta['revision']}" if status == "final" else ""),
        file=sys.stderr,
    )


async def cmd_statement(args: Namespace) -> int:
    """A customer's monthly statement in one format, as the admin API serves it."""
    import asyncpg

    from app.config import get_settings
    from app.customers import render, statements
    from app.customers import service as customers
    from app.errors import ApiError
    from app.reports import pdf
    from app.reports import service as reports
    from app.reports.pdf import PdfUnavailable

    settings = get_settings()
    now = datetime.now(timezone.utc)
    conn = await asyncpg.connect(settings.database_url, server_settings={"timezone": "UTC"})
    try:
        customer = await customers.get(conn, args.customer)
        period = reports.parse_month(args.month, settings.zone, now, "--month")
        doc = await statements.get(conn, customer, period, now, settings.timezone, args.revision)
    except ApiError as exc:
        return _fail(exc.message, 2 if exc.status in (404, 422) else 1)
    finally:
        await conn.close()
    organisation, logo = settings.organisation_name, settings.organisation_logo
    try:
        if args.format == "pdf":
            body = await render.print_pdf(doc, args.lang, organisation, logo, settings.chromium_path)
        else:
            body = render.as_bytes(doc, args.format, args.lang, organisation, logo)
    except PdfUnavailable as exc:
        return _fail(str(exc), 1)
    finally:
        await pdf.shutdown()
    _write(body, args.output, args.format, doc["statement"])
    return 0


async def cmd_deliver(args: Namespace) -> int:
    """Record a closed month's statements for delivery and send them now (the outbox's claim, so a
    running worker never sends one twice); --dry-run says what would be sent."""
    from typing import cast

    import asyncpg

    from app.config import get_settings
    from app.customers import delivery
    from app.customers import service as customers
    from app.db import create_pool
    from app.errors import ApiError
    from app.notifications import delivery as outbox
    from app.notifications.senders import Senders
    from app.reports import pdf
    from app.reports.pdf import PdfUnavailable

    settings = get_settings()
    now = datetime.now(timezone.utc)
    period = _ended_month(args.month, settings.zone, now, ": its statements are provisional")
    if isinstance(period, str):
        return _fail(period)
    pool = await create_pool(settings, min_size=1, max_size=3, application_name="slamon-report-deliver")
    senders = Senders(settings)
    try:
        if args.customer:
            async with pool.acquire() as conn:
                try:
                    await customers.get(cast(asyncpg.Connection, conn), args.customer)
                except ApiError as exc:
                    return _fail(exc.message)
        try:
            planned = await delivery.deliver_month(
                pool,
                settings,
                period,
                now,
                customer_id=args.customer,
                again=args.again,
                dry_run=args.dry_run,
                requested_by=f"cli:{_system_user()}",
            )
        except PdfUnavailable as exc:
            return _fail(str(exc), 1)
        for item in planned:
            for delivery_id in item.delivery_ids:
                await outbox.deliver(pool, senders, settings, delivery_id)
        async with pool.acquire() as conn:
            rows = await delivery.outcomes(conn, [i.event_key for i in planned if i.delivery_ids and i.event_key])
    finally:
        await senders.close()
        await pdf.shutdown()
        await pool.close()
    _print_delivery(planned, rows, args.dry_run)
    return 1 if any(r["status"] != "delivered" for r in rows) else 0


def _print_delivery(planned: list[Planned], rows: list[Record], dry_run: bool) -> None:
    by_key: dict[str, list[Record]] = {}
    for row in rows:
        by_key.setdefault(row["event_key"], []).append(row)
    for item in planned:
        head = f"{item.customer_id} {item.month}" + (f" revision {item.revision}" if item.revision else "")
        if dry_run and item.event_key:
            print(f"{head}: would send to {', '.join(item.receivers)}")
        elif item.skipped:
            print(f"{head}: not sent: {item.skipped}")
        for row in by_key.get(item.event_key or "", []):
            error = f" ({row['last_error']})" if row["last_error"] else ""
            print(f"{head}: {row['kind']} {row['receiver']}: {row['status']}{error}")
    if not planned:
        print("no customer has a statement for that month")


def add_commands(subparsers: _SubParsersAction[ArgumentParser]) -> None:
    from app.web.i18n import DEFAULT_LANGUAGE, LANGUAGES

    p = subparsers.add_parser(
        "report",
        help="monthly SLA reports: write one, revise a closed month, close months",
        description="slamon report --service ID --month YYYY-MM --format html|pdf|csv|json [--output FILE]",
    )
    p.add_argument("--service", dest="report_service", metavar="ID")
    p.add_argument("--month", dest="report_month", metavar="YYYY-MM")
    p.add_argument("--format", choices=["html", "pdf", "csv", "json"], default="json")
    p.add_argument("--output", "-o", metavar="FILE", help="default: standard output")
    p.add_argument("--revision", type=int, help="a frozen revision (default: the latest)")
    p.add_argument(
        "--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE, help=f"language of html/pdf (default {DEFAULT_LANGUAGE})"
    )
    p.set_defaults(run=cmd_report, report_command=None)
    sub = p.add_subparsers(dest="report_command")
    r = sub.add_parser(
        "revise", help="recompute a closed month into revision N+1 (reason and author recorded, audited)"
    )
    r.add_argument("--service", required=True, metavar="ID")
    r.add_argument("--month", required=True, metavar="YYYY-MM")
    r.add_argument("--reason", required=True)
    r.add_argument("--author", help="default: the system user")
    r.set_defaults(run=cmd_revise)
    c = sub.add_parser("close", help="run the month close now (what the worker's cron does)")
    c.add_argument("--month", metavar="YYYY-MM", help="close this ended month now, ignoring the grace delay")
    c.set_defaults(run=cmd_close)
    st = sub.add_parser("statement", help="write a customer's monthly statement (json, csv, html or pdf)")
    st.add_argument("--customer", required=True, metavar="ID")
    st.add_argument("--month", required=True, metavar="YYYY-MM")
    st.add_argument("--format", choices=["html", "pdf", "csv", "json"], default="json")
    st.add_argument("--output", "-o", metavar="FILE", help="default: standard output")
    st.add_argument("--revision", type=int, help="a frozen revision (default: the latest)")
    st.add_argument("--lang", choices=["ko", "en"], default="ko", help="language of html/pdf (default ko)")
    st.set_defaults(run=cmd_statement)
    d = sub.add_parser(
        "deliver",
        help="send a closed month's statements to the customers' contacts (and the statements webhook) now",
    )
    d.add_argument("--month", required=True, metavar="YYYY-MM")
    d.add_argument("--customer", metavar="ID", help="only this customer (default: every customer)")
    d.add_argument("--dry-run", action="store_true", help="say what would be sent; send and record nothing")
    d.add_argument("--again", action="store_true", help="send a month that was delivered already once more")
    d.set_defaults(run=cmd_deliver)
