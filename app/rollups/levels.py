"""What the rollups are, whichever backend keeps them: the levels of the hierarchy, the column sets a
reader can ask for, what a refresh reports, and the interface both backends implement (Backend)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import asyncpg

from app.rollups import queries
from app.rollups.queries import LevelSql, RollupSql

FAR_PAST = datetime(1970, 1, 1, tzinfo=timezone.utc)
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Level:
    """One level of a rollup hierarchy."""

    sql: LevelSql
    width: timedelta
    reporting_zone: bool  # daily buckets follow SLAMON_TIMEZONE; the others are UTC

    @property
    def name(self) -> str:
        return self.sql.name

    def zone(self, timezone_name: str) -> str:
        return timezone_name if self.reporting_zone else "UTC"


@dataclass(frozen=True)
class Rollup(Level):
    """A level the API reads, materialised from the first level below it."""

    sql: RollupSql


# The first levels (sql/200): slots of checks (a slot is its own 1-second bucket), minutes of API calls.
CHECK_SLOTS = Level(queries.CHECK_SLOT_LEVEL, timedelta(seconds=1), reporting_zone=False)
USAGE_MINUTES = Level(queries.USAGE_MINUTE_LEVEL, timedelta(minutes=1), reporting_zone=False)
CHECKS_HOURLY = Rollup(queries.CHECKS_HOURLY, timedelta(hours=1), reporting_zone=False)
CHECKS_DAILY = Rollup(queries.CHECKS_DAILY, timedelta(days=1), reporting_zone=True)
USAGE_DAILY = Rollup(queries.USAGE_DAILY, timedelta(days=1), reporting_zone=True)
ROLLUPS = (CHECKS_HOURLY, CHECKS_DAILY, USAGE_DAILY)
# Refresh order: every level after the one it is materialised from.
LEVELS: tuple[Level, ...] = (CHECK_SLOTS, CHECKS_HOURLY, CHECKS_DAILY, USAGE_MINUTES, USAGE_DAILY)


class Columns(enum.Enum):
    """The columns a read returns besides service_id and bucket."""

    ALL = "all"  # every column of the rollup (queries.CHECKS_COLUMNS, USAGE_COLUMNS)
    SLOTS = "slots"  # queries.SLOT_COLUMNS of a check rollup: availability and day grids, a quarter of the width

    def of(self, rollup: Rollup) -> tuple[str, ...]:
        if self is Columns.ALL:
            return rollup.sql.columns
        if rollup.sql.slots is None:
            raise ValueError(f"rollup {rollup.name} has no slot columns")
        return queries.SLOT_COLUMNS


@dataclass(frozen=True)
class Ask:
    """What a read asks for: the buckets of `rollup` cut in `zone` in [start, end) (bucket-aligned)
    of the services (None: all)."""

    rollup: Rollup
    zone: str
    service_ids: list[str] | None
    start: datetime
    end: datetime

    @property
    def args(self) -> tuple[list[str] | None, datetime, datetime, timedelta, str]:
        """$1..$5 of every reading statement (queries.py)."""
        return (self.service_ids, self.start, self.end, self.rollup.width, self.zone)


@dataclass
class RefreshReport:
    rollup: str
    watermark: datetime | None
    ranges_recomputed: int
    recut: bool = False


# One row per service: `service_id`, `bucket_epochs` (bucket starts, Unix seconds) and a sequence per
# slot column (a list or an array.array), element i of each for the same bucket, in no set order.
Arrays = Sequence[Mapping[str, Any]]


class Backend(Protocol):
    """One way of keeping the rollups: 'tables' (app/rollups/tables.py, maintained by the worker's
    refresh on any TimescaleDB) or 'caggs' (app/rollups/caggs.py, continuous aggregates on the Timescale
    License edition). Both give the same rows; app/rollups/service.py picks one per database."""

    name: str
    # Whether refresh() works inside the caller's transaction (and then holds the refresh lock until
    # its commit); continuous aggregates are refreshed outside any.
    refreshes_in_transaction: bool

    async def refresh(self, conn: asyncpg.Connection, timezone_name: str, target: datetime) -> list[RefreshReport]:
        """Materialise every level up to `target` and recompute the logged ranges, recording what was
        rewritten (queries.RECORD_REWRITE) in the same transaction as the rewrite."""
        ...

    async def read(self, conn: asyncpg.Connection, ask: Ask, columns: Columns) -> list[asyncpg.Record]:
        """The buckets asked for as rows ordered by service and bucket, exact whatever the lag."""
        ...

    async def read_arrays(self, conn: asyncpg.Connection, ask: Ask) -> Arrays:
        """read(..., Columns.SLOTS) as one row per service (Arrays)."""
        ...


def as_arrays(rows: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    """Bucket rows of the slot columns as Arrays."""
    by_service: dict[str, dict[str, Any]] = {}
    for r in rows:
        arrays = by_service.setdefault(
            r["service_id"],
            {"service_id": r["service_id"], "bucket_epochs": [], **{c: [] for c in queries.SLOT_COLUMNS}},
        )
        arrays["bucket_epochs"].append(int(r["bucket"].timestamp()))
        for c in queries.SLOT_COLUMNS:
            arrays[c].append(r[c])
    return list(by_service.values())
