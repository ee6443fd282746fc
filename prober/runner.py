"""One prober process: fleet membership, scheduler, sink, health endpoint. It announces nothing itself:
its writes are what the live status (workers/live.py) is computed from, across every region."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NotRequired, TypedDict

import asyncpg

from app.ingest.service import CheckRow
from app.services.service import list_active
from prober import lastseen
from prober.client import ProbeContext
from prober.fleet import Fleet
from prober.metrics import ProberMetrics
from prober.models import ProbeResult, ServiceRow, Target, TargetError
from prober.rendezvous import View
from prober.scheduler import Scheduler
from prober.sink import Sink
from prober.spool import Spool, SpoolLocked

log = logging.getLogger(__name__)
TargetSource = Callable[[], Awaitable[list[Target]]]
CERTIFICATE_REFRESH_S = 3600  # an unchanged certificate expiry is stored again after an hour


@dataclass
class ProberOptions:
    region: str
    prober_id: str
    database_url: str
    # Not read by the prober since the current status is computed from what is stored, for all regions
    # at once (workers/live.py); kept so that existing callers and configurations stay valid.
    redis_url: str | None
    data_dir: Path
    heartbeat_s: float = 5.0
    ttl_s: float = 15.0
    handover_delay_s: float | None = None
    flush_interval_s: float = 0.5
    max_concurrency: int = 2000
    targets_refresh_s: float = 30.0
    spool_max_bytes: int = 256 * 1024 * 1024
    realtime_channel: str | None = None  # likewise no longer read


def database_targets(database_url: str, keep_in: Path | None = None) -> TargetSource:
    """Active services from the `services` table; a service that cannot be probed is logged and skipped.
    `keep_in`: a folder where the rows are kept for a start without the database (prober.lastseen)."""

    async def load() -> list[Target]:
        conn = await asyncpg.connect(database_url, timeout=5)
        try:
            rows = await list_active(conn)
        finally:
            await conn.close()
        if keep_in is not None:
            lastseen.save_catalog(keep_in, rows)
        return targets_from(rows)

    return load


class HealthBody(TypedDict):
    """GET /healthz of a prober (prober.health); `reason` is there exactly when it is unhealthy."""

    proberId: str
    region: str
    database: bool
    assignedServices: int
    spoolDepth: int
    reason: NotRequired[str]


def targets_from(rows: Iterable[ServiceRow]) -> list[Target]:
    """The probed services among catalog rows; a service that cannot be probed is logged and skipped."""
    targets = []
    for row in rows:
        if not row["endpoint_url"]:
            continue  # push-only service
        try:
            targets.append(Target.from_row(row))
        except TargetError as exc:
            log.error("service not probed: %s", exc, extra={"service_id": row["id"], "job": "targets"})
    return targets


class Prober:
    def __init__(self, options: ProberOptions, targets: TargetSource | None = None):
        self.options = options
        self.region = options.region
        spool_dir = Path(options.data_dir) / "spool" / f"{options.region}-{options.prober_id}"
        # What the database last said is kept beside the journal, for a start while it is unreachable;
        # not for an injected source of targets (tests), which needs no database.
        self._lastseen_dir = spool_dir if targets is None else None
        self.targets_source = targets or database_targets(options.database_url, self._lastseen_dir)
        self.ctx = ProbeContext()
        self.metrics = ProberMetrics(options.region)
        self.metrics.missed_slots = lambda: self.scheduler.missed_slots
        self.fleet = Fleet(
            options.database_url,
            options.region,
            options.prober_id,
            heartbeat_s=options.heartbeat_s,
            ttl_s=options.ttl_s,
            handover_delay_s=options.handover_delay_s,
        )
        self.scheduler = Scheduler(
            options.prober_id,
            self.ctx,
            self.on_result,
            view=lambda: self.fleet.view,
            max_concurrency=options.max_concurrency,
        )
        self.spool = Spool(spool_dir, options.spool_max_bytes)
        self.sink = Sink(self.spool, options.database_url, flush_interval_s=options.flush_interval_s)
        self._tasks: list[asyncio.Task[None]] = []
        self._targets_loaded_at = 0.0
        self._remembered_assignment: tuple[tuple[str, float, bool], ...] = ()
        self._certificates_due: dict[str, tuple[float, float]] = {}  # service -> (not_after, seen at)
        self._certificates_stored: dict[str, tuple[float, float]] = {}
        self.metrics.gauges.update(
            {
                "slamon_prober_spool_depth": (
                    "Results not acknowledged by the database yet (memory and journal).",
                    lambda: self.sink.depth,
                ),
                "slamon_prober_assigned_services": (
                    "Services this prober owns in its region (rendezvous hashing).",
                    lambda: self.fleet.assigned_services,
                ),
                "slamon_prober_services": ("Services this prober schedules.", lambda: len(self.scheduler.targets)),
                "slamon_prober_in_flight_checks": ("Checks running now.", lambda: len(self.scheduler.in_flight)),
                "slamon_prober_database_up": (
                    "Whether the last heartbeat reached the database (1) or not (0).",
                    lambda: int(self.fleet.connected),
                ),
                "slamon_prober_sink_buffered_rows": (
                    "Results held in memory for the database.",
                    lambda: len(self.sink._buffer),
                ),
                "slamon_prober_spool_writable": (
                    "Whether the journal can be written (1) or not (0: disk full, I/O error).",
                    lambda: int(self.sink.disk_error is None),
                ),
            }
        )
        self.metrics.counters.update(
            {
                "slamon_prober_sink_write_errors_total": (
                    "Spool writes or reads that failed (disk full, I/O).",
                    lambda: self.sink.write_errors,
                ),
                "slamon_prober_sink_dropped_rows_total": (
                    "Results dropped from memory while the spool could not be written.",
                    lambda: self.sink.dropped_rows,
                ),
            }
        )

    def on_result(self, target: Target, slot: int, result: ProbeResult, lag_s: float) -> None:
        self.sink.submit(
            CheckRow(
                datetime.fromtimestamp(slot, timezone.utc),
                target.service_id,
                self.region,
                result.ok,
                result.status_code,
                result.latency_ms,
                result.error_type,
                result.error_message,
            )
        )
        self.metrics.record_check(target.service_id, result.ok, result.error_type, result.latency_ms, lag_s)
        if result.cert_expires_at is not None:
            self._saw_certificate(target.service_id, result.cert_expires_at)

    def _saw_certificate(self, service_id: str, not_after: float) -> None:
        """Queue a certificate expiry for storage when it changed or was last stored an hour ago."""
        now = time.time()
        stored = self._certificates_stored.get(service_id)
        self.metrics.certificates[service_id] = not_after
        if stored is None or stored[0] != not_after or now - stored[1] >= CERTIFICATE_REFRESH_S:
            self._certificates_due[service_id] = (not_after, now)

    async def _store_certificates(self) -> None:
        due, self._certificates_due = self._certificates_due, {}
        try:
            await self.fleet.record_certificates(due)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            self._certificates_due = {**due, **self._certificates_due}  # next heartbeat
            return
        self._certificates_stored.update(due)

    async def start(self) -> None:
        await self.refresh_targets()
        view = await self.fleet.beat()
        if view is not None:
            self._remember(view)
        elif self._lastseen_dir is not None:
            self._start_from_last_seen(self._lastseen_dir)
        self._tasks = [
            asyncio.create_task(coro, name=name)
            for name, coro in (
                ("scheduler", self.scheduler.run()),
                ("sink", self.sink.run()),
                ("fleet", self._fleet_loop()),
                ("orphans", self._adopt_orphan_spools()),
            )
        ]
        log.info(
            "prober %s started with %d service(s)",
            self.options.prober_id,
            len(self.scheduler.targets),
            extra={"region": self.region, "job": "prober"},
        )

    def _start_from_last_seen(self, directory: Path) -> None:
        """Database unreachable at start: check the services last loaded, as the last view assigned them."""
        self.fleet.view = self.fleet.view or lastseen.load_view(directory)
        if not self.scheduler.targets:
            rows = lastseen.load_catalog(directory)
            if rows:
                self.scheduler.set_targets(targets_from(rows))
        log.warning(
            "database unreachable at start: checking the %d service(s) last seen%s",
            len(self.scheduler.targets),
            "" if self.fleet.view else " (no membership view kept: none assigned)",
            extra={"region": self.region, "job": "prober"},
        )

    def _remember(self, view: View) -> None:
        """Keep the view when the assignment it makes changed (who is in, since when, who is live)."""
        assignment = tuple(sorted((m.prober_id, m.active_from, m.expires_at > view.as_of) for m in view.members))
        if self._lastseen_dir is not None and assignment != self._remembered_assignment:
            lastseen.save_view(self._lastseen_dir, view)
            self._remembered_assignment = assignment

    async def refresh_targets(self) -> None:
        try:
            self.scheduler.set_targets(await self.targets_source())
            self._targets_loaded_at = time.monotonic()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning(
                "could not load services, keeping %d: %s",
                len(self.scheduler.targets),
                exc,
                extra={"region": self.region, "job": "targets"},
            )

    async def _fleet_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_s)
            self.fleet.assigned_services = self.scheduler.assigned_count()
            view = await self.fleet.beat()
            if view is None:
                continue
            self._remember(view)
            await self._catch_up(view)
            if self._certificates_due:
                await self._store_certificates()
            if time.monotonic() - self._targets_loaded_at >= self.options.targets_refresh_s:
                await self.refresh_targets()

    async def _catch_up(self, view: View) -> None:
        # the current slot a lapsed prober may have left unchecked (earlier ones stay gaps)
        candidates = self.scheduler.catch_up_candidates(view)
        if not candidates:
            return
        await self.sink.flush()
        try:
            done = await self.fleet.checked_slots([(t.service_id, slot) for t, slot in candidates])
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return  # cannot tell what the lapsed prober stored: better a gap than a guess
        for target, slot in candidates:
            if (target.service_id, float(slot)) in done:
                last = self.scheduler.last_run.get(target.service_id, slot)
                self.scheduler.last_run[target.service_id] = max(slot, last)
                continue
            self.metrics.catch_up_checks += 1
            log.info(
                "checking slot %d left by a lapsed prober",
                slot,
                extra={"service_id": target.service_id, "region": self.region, "job": "catch-up"},
            )
            self.scheduler.start_check(target, slot)

    async def _adopt_orphan_spools(self) -> None:
        """Replay journals left by probers of this region that died on this machine."""
        root = self.spool.directory.parent
        for directory in sorted(root.glob(f"{self.region}-*")):
            if directory == self.spool.directory or not directory.is_dir():
                continue
            try:
                orphan = Spool(directory)
            except SpoolLocked:
                continue
            sink = Sink(orphan, self.options.database_url)
            while orphan.depth:
                await sink.flush()
                if orphan.depth:
                    await asyncio.sleep(1)
            await sink.close()
            orphan.close()
            shutil.rmtree(directory, ignore_errors=True)
            log.info(
                "replayed the spool of a stopped prober: %s",
                directory.name,
                extra={"region": self.region, "job": "spool"},
            )

    async def stop(self, grace_s: float = 5.0) -> None:
        """Graceful stop: no new checks, finish running ones, flush, then leave the region."""
        await self.scheduler.stop(grace_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sink.close()
        await self.fleet.stop()
        await self.ctx.close()
        self.spool.close()

    def health(self) -> tuple[bool, HealthBody]:
        view = self.fleet.view
        me = next((m for m in view.members if m.prober_id == self.options.prober_id), None) if view else None
        body: HealthBody = {
            "proberId": self.options.prober_id,
            "region": self.region,
            "database": self.fleet.connected,
            "assignedServices": self.fleet.assigned_services,
            "spoolDepth": self.sink.depth,
        }
        if not self.fleet.connected:
            body["reason"] = self.fleet.last_error or "not connected to the database yet"
        elif me is None or me.active_from > time.time():
            body["reason"] = "waiting for the region to hand services over"
        if self.sink.disk_error is not None:  # results are at risk: this outranks any other reason
            body["reason"] = f"cannot write the spool: {self.sink.disk_error}"
        return "reason" not in body, body
