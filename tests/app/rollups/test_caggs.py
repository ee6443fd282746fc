"""The Timescale License path: continuous aggregates (sql/tsl/, app/rollups/caggs.py).

Here (Apache edition) the SELECTs of the migration and the cagg readers run over stand-in views and
must give the Apache rollups' rows; the migration runner applies sql/tsl/ only on 'timescale'. The
tests marked `timescale_only` run the real aggregates on a Timescale License server."""

import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from app import db
from app.config import Settings
from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.retention import service as retention
from app.rollups import caggs
from app.rollups import service as rollups
from app.rollups.levels import Ask
from app.rollups.queries import SLOT_COLUMNS
from app.services.service import load_catalog, sync_catalog
from tests.app.rollups.conftest import materialised
from tests.app.rollups.test_exactness import pandas_calls_by_day, pandas_checks_by_day

ROOT = Path(__file__).resolve().parents[3]
BASE = datetime(2025, 10, 25, 12, tzinfo=timezone.utc)  # Berlin leaves DST on Oct 26
NOW = BASE + timedelta(days=30)
FAR = (datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2026, 6, 1, tzinfo=timezone.utc))
SERVICES = ("id-recognition", "face-compare")
REGIONS = ("seoul", "virginia", "frankfurt")
# every histogram bound and its neighbours, and latencies over the targets (7 s, 30 s)
LATENCIES = (
    0,
    49,
    50,
    99,
    100,
    199,
    200,
    300,
    499,
    500,
    999,
    1000,
    2000,
    3000,
    4999,
    5000,
    7000,
    7001,
    9999,
    10000,
    14999,
    15000,
    29999,
    30000,
    45000,
)
ORDER = ("cagg_check_slots", "cagg_usage_minutes", "cagg_checks_hourly", "cagg_checks_daily", "cagg_usage_daily")
VIEW = re.compile(
    r"CREATE MATERIALIZED VIEW (\w+)\s+WITH \(timescaledb\.continuous[^)]*\) AS\s+"
    r"(SELECT .*?)\s+WITH NO DATA",
    re.S,
)


def dataset(days: int = 3) -> tuple[list[CheckRow], list[ApiCallRow]]:
    """Slots with 3 regions and with 2 (ties fail), failures, even counts of ok regions (the lower
    median), latencies across the histogram bounds and over the targets; calls of every status class."""
    checks, calls = [], []
    for step, minute in enumerate(range(0, days * 24 * 60, 7)):
        ts = BASE + timedelta(minutes=minute)
        for service in SERVICES:
            for i, region in enumerate(REGIONS):
                if step % 11 == 0 and region == "frankfurt":
                    continue
                ok = (step + i + len(service)) % 5 != 0
                latency = LATENCIES[(step * 7 + i * 3) % len(LATENCIES)] if ok else None
                checks.append(
                    CheckRow(ts, service, region, ok, 200 if ok else 503, latency, None if ok else "http_error")
                )
            status = (200, 200, 201, 404, 429, 500, 503)[step % 7]
            calls.append(
                ApiCallRow(
                    ts + timedelta(seconds=step % 50),
                    service,
                    "/v1",
                    "POST",
                    status,
                    LATENCIES[(step * 5) % len(LATENCIES)],
                )
            )
    return checks, calls


def cagg_selects(zone: str) -> dict[str, str]:
    """The SELECT of every continuous aggregate as the migrations leave it (a later migration's
    definition replaces an earlier one's: sql/tsl/092 recreates those of checks), daily ones cut in `zone`."""
    literal = "'" + zone.replace("'", "''") + "'"
    selects = {}
    for migration in db.tsl_migration_files():
        selects |= {name: select.replace("%1$L", literal) for name, select in VIEW.findall(migration.read_text())}
    return selects


def dicts(records) -> list[dict]:
    return [dict(r) for r in records]


async def _stand_ins(conn, zone: str) -> None:
    """Plain views with the aggregates' names and SELECTs (what a refreshed aggregate returns), and
    the zone table, in the caller's transaction."""
    selects = cagg_selects(zone)
    assert sorted(selects) == sorted(ORDER) == sorted(caggs.VIEWS)
    for name in ORDER:  # first levels first: the second levels select from them
        await conn.execute(f"CREATE TEMP VIEW {name} AS {selects[name]}")
    await conn.execute("CREATE TEMP TABLE rollup_caggs (rollup text PRIMARY KEY, timezone text NOT NULL)")
    await conn.execute("INSERT INTO rollup_caggs VALUES ('checks_daily', $1), ('usage_daily', $1)", zone)


async def _assert_readers_equal_scratch(conn, zone: str) -> None:
    for rollup in rollups.ROLLUPS:
        scratch = dicts(await rollups.aggregate_raw(conn, rollup, zone, None, *FAR))
        assert scratch, rollup.name
        read = await rollups.CAGGS.read(conn, Ask(rollup, rollup.zone(zone), None, *FAR), rollups.ALL)
        assert dicts(read) == scratch, rollup.name
        if rollup.sql.slots:
            slots = await rollups.CAGGS.read(conn, Ask(rollup, rollup.zone(zone), None, *FAR), rollups.SLOTS)
            assert dicts(slots) == [{k: r[k] for k in ("service_id", "bucket", *SLOT_COLUMNS)} for r in scratch]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "Asia/Kolkata"])
async def test_the_cagg_selects_and_readers_give_the_apache_rollups_rows(conn, zone):
    checks, calls = dataset()
    transaction = conn.transaction()
    await transaction.start()
    try:
        await write_checks(conn, checks, now=NOW)
        await write_api_calls(conn, calls, now=NOW)
        await _stand_ins(conn, zone)
        # Each aggregate's own SELECT: the second levels over the first, as the migration builds them.
        for rollup in rollups.ROLLUPS:
            columns = ", ".join(("service_id", "bucket", *rollup.sql.columns))
            view = dicts(await conn.fetch(f"SELECT {columns} FROM cagg_{rollup.name} ORDER BY 1, 2"))
            assert view == dicts(await rollups.aggregate_raw(conn, rollup, zone, None, *FAR)), rollup.name
        # The checks rollups also keep what they applied of `services` (sql/tsl/092), and only that.
        for name in ("checks_hourly", "checks_daily"):
            assert (
                await conn.fetchval(
                    f"SELECT count(*) FROM cagg_{name} m JOIN services v ON v.id = m.service_id "
                    "WHERE (m.applied_interval_s, m.applied_latency_target_ms) "
                    "IS DISTINCT FROM (v.interval_s, v.latency_target_ms)"
                )
                == 0
            )
        # The readers, with every written range still logged (read live) and with none.
        assert await conn.fetchval("SELECT count(*) FROM rollup_invalidations") > 0
        await _assert_readers_equal_scratch(conn, zone)
        await conn.execute("DELETE FROM rollup_invalidations")
        await _assert_readers_equal_scratch(conn, zone)
        # A late batch and a changed service: pending again, read live, nothing counted twice.
        late = [
            CheckRow(
                BASE + timedelta(minutes=m, seconds=30),
                "face-compare",
                "virginia",
                m % 3 == 0,
                200,
                150,
                None if m % 3 == 0 else "assertion_failed",
            )
            for m in range(0, 600, 5)
        ]
        await write_checks(conn, late, now=NOW)
        await rollups.invalidate_service(conn, "id-recognition")
        await _assert_readers_equal_scratch(conn, zone)
        # Daily views still cut in another zone: the readers cut the first level in the zone asked for.
        await conn.execute("UPDATE rollup_caggs SET timezone = 'Pacific/Chatham'")
        await _assert_readers_equal_scratch(conn, zone)
        daily = await rollups.CAGGS.read(conn, Ask(rollups.CHECKS_DAILY, zone, None, *FAR), rollups.ALL)
        local = ZoneInfo(zone)
        got = {(r["service_id"], r["bucket"].astimezone(local).date()): (r["slots"], r["ok_slots"]) for r in daily}
        assert got == pandas_checks_by_day(checks + late, zone)
        usage = await rollups.CAGGS.read(conn, Ask(rollups.USAGE_DAILY, zone, None, *FAR), rollups.ALL)
        got = {
            (r["service_id"], r["bucket"].astimezone(local).date()): (r["calls"], r["ok_200"], r["latency_sum_ms"])
            for r in usage
        }
        assert got == pandas_calls_by_day(calls, zone)
    finally:
        await transaction.rollback()


async def test_the_edition_is_detected_and_sql_tsl_follows_it(conn):
    license_name = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    edition = await db.edition(conn)
    assert edition == ("timescale" if license_name == "timescale" else "apache")
    applied = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations WHERE name LIKE 'tsl/%'")]
    views = [v for v in caggs.VIEWS if await conn.fetchval("SELECT to_regclass($1)", v) is not None]
    server = await conn.fetchrow(db.EXTENSION_VERSION)
    if not db.caggs_chosen(Settings().rollup_backend, edition, server["version"], server["pg_major"]):
        assert applied == [] and views == []
        assert not await rollups.uses_caggs(conn)
    else:
        assert applied == [f"tsl/{p.name}" for p in db.tsl_migration_files()]
        assert views == list(caggs.VIEWS)
        assert await rollups.uses_caggs(conn)
    assert await db.migrate(conn) == []  # everything this edition takes is applied, the rest is skipped


async def test_sql_tsl_migrations_run_only_on_the_timescale_license_in_file_name_order(pool, tmp_path):
    (tmp_path / "tsl").mkdir()
    (tmp_path / "001_plain.sql").write_text("CREATE TABLE plain_one (id int PRIMARY KEY);")
    (tmp_path / "tsl" / "002_licensed.sql").write_text("CREATE TABLE licensed (id int REFERENCES plain_one (id));")
    (tmp_path / "003_plain.sql").write_text("CREATE TABLE plain_two (id int);")
    schemas = [f"migrate_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    async with pool.acquire() as conn:
        try:
            await conn.execute(f"CREATE SCHEMA {schemas[0]}; CREATE SCHEMA {schemas[1]}")
            await conn.execute(f"SET search_path TO {schemas[0]}")
            assert await db.migrate(conn, tmp_path, server_edition="apache") == ["001_plain.sql", "003_plain.sql"]
            assert await conn.fetchval("SELECT to_regclass('licensed')") is None
            detected = await db.edition(conn)
            server = await conn.fetchrow(db.EXTENSION_VERSION)
            chosen = db.caggs_chosen("auto", detected, server["version"], server["pg_major"])
            assert await db.migrate(conn, tmp_path) == (["tsl/002_licensed.sql"] if chosen else [])
            # Moved to a Timescale License server, or caggs asked for where `auto` kept tables: the TSL
            # migration is pending there.
            if not chosen:
                assert await db.migrate(conn, tmp_path, server_edition="timescale", backend="caggs") == [
                    "tsl/002_licensed.sql"
                ]
            assert await db.migrate(conn, tmp_path, server_edition="timescale", backend="caggs") == []
            await conn.execute(f"SET search_path TO {schemas[1]}")
            assert await db.migrate(conn, tmp_path, server_edition="timescale", backend="caggs") == [
                "001_plain.sql",
                "tsl/002_licensed.sql",
                "003_plain.sql",
            ]
        finally:
            await conn.execute(f"RESET search_path; DROP SCHEMA {schemas[0]} CASCADE; DROP SCHEMA {schemas[1]} CASCADE")


@pytest.mark.parametrize(
    "backend, edition, version, pg_major, chosen",
    [
        ("auto", "timescale", "2.28.3", 15, True),  # a verified release on its verified PostgreSQL
        ("auto", "timescale", "2.28.0", 15, True),
        ("auto", "timescale", "2.28.3", 17, False),  # verified on 15 only (the Docker image's pin)
        ("auto", "timescale", "2.19.3", 15, False),  # License edition, not verified: plain tables
        ("auto", "timescale", "2.29.1", 17, True),  # 2.29 verified on 17.12 (with sql/tsl/093)
        ("auto", "timescale", "2.29.2", 18, True),  # verified with sql/tsl/092 (the catalog change within 2x)
        ("auto", "timescale", "2.28.3", 18, False),  # verified on 15 only
        ("auto", "timescale", "2.29.2", 16, True),  # verified on 16.14 (with sql/tsl/093)
        ("auto", "timescale", "2.29.2", 15, False),  # 2.29 does not build against 15
        ("auto", "timescale", "2.30.0", 17, False),  # a release not verified yet
        ("auto", "apache", "2.19.3", 15, False),
        ("tables", "timescale", "2.28.3", 15, False),
        ("caggs", "timescale", "2.19.3", 15, True),  # asked for explicitly
        ("caggs", "apache", "2.19.3", 15, "needs TimescaleDB's Timescale License"),
        ("cagg", "timescale", "2.28.3", 15, "must be one of auto, tables, caggs"),
    ],
)
def test_the_rollup_backend_is_chosen_by_setting_edition_and_verified_release(
    backend, edition, version, pg_major, chosen
):
    if isinstance(chosen, str):
        with pytest.raises(db.MigrationError, match=chosen):
            db.caggs_chosen(backend, edition, version, pg_major)
    else:
        assert db.caggs_chosen(backend, edition, version, pg_major) is chosen


async def test_a_database_keeps_the_backend_of_its_first_tsl_migration(pool, tmp_path):
    (tmp_path / "tsl").mkdir()
    (tmp_path / "tsl" / "001_licensed.sql").write_text("CREATE TABLE licensed_one (id int);")
    schema = f"migrate_{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn:
        try:
            await conn.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}")
            assert await db.migrate(conn, tmp_path, server_edition="timescale", backend="caggs") == [
                "tsl/001_licensed.sql"
            ]
            (tmp_path / "tsl" / "002_licensed.sql").write_text("CREATE TABLE licensed_two (id int);")
            # `auto` on an unverified release would not start with caggs, but this database did
            assert await db.migrate(conn, tmp_path, server_edition="timescale") == ["tsl/002_licensed.sql"]
        finally:
            await conn.execute(f"RESET search_path; DROP SCHEMA {schema} CASCADE")


async def test_logged_ranges_are_merged_across_services_and_kept_off_dropped_chunks(conn):
    checks, _ = dataset(days=2)
    await write_checks(conn, checks, now=NOW)
    await conn.execute("DELETE FROM rollup_invalidations")
    horizon = BASE + timedelta(hours=12)
    await conn.execute("INSERT INTO raw_retention (raw_table, dropped_before) VALUES ('checks', $1)", horizon)
    await rollups.invalidate_service(conn, "face-compare")  # 1970 .. 2200
    await write_checks(conn, [CheckRow(BASE + timedelta(hours=1), "id-recognition", "lima", True, 200, 80)], now=NOW)
    taken = await conn.fetch(caggs.PENDING)
    newest = max(r.ts for r in checks) + timedelta(seconds=1)
    # one refresh covers every service: one range, from the horizon to just past the newest row
    assert await caggs._logged_ranges(conn, "checks", taken, horizon) == [(horizon, newest)]
    assert await caggs._logged_ranges(conn, "api_calls", taken, None) == []


async def test_the_refresh_statements_bind_up_to_the_license_check_here(conn):
    if await rollups.uses_caggs(conn):
        pytest.skip("the real refresh runs in the tests below")
    if await db.edition(conn) == "timescale":
        pytest.skip("a Timescale License server keeping tables (SLAMON_ROLLUP_BACKEND): no license check to reach")
    checks, _ = dataset(days=1)
    await write_checks(conn, checks, now=NOW)
    await _stand_ins(conn, "UTC")  # plain views: the regclass argument resolves, the license check refuses
    try:
        with pytest.raises(asyncpg.FeatureNotSupportedError, match="refresh_continuous_aggregate.*license"):
            await caggs.refresh(conn, "UTC", NOW)
        # (this database's: the server is shared with other test runs that take the same key)
        held = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 5308417"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert held == 0
        assert await conn.fetchval("SELECT count(*) FROM rollup_invalidations") > 0  # kept: nothing was refreshed
        async with conn.transaction():  # where app/retention calls it: refused, nothing touched
            assert await caggs.refresh(conn, "UTC", NOW) is None
    finally:
        views = ", ".join(f"pg_temp.{v}" for v in reversed(ORDER))
        await conn.execute(f"DROP TABLE pg_temp.rollup_caggs; DROP VIEW {views}")


# --- on a Timescale License server ---------------------------------------------------------------


async def _materialised_rows(conn, rollup) -> list[dict]:
    columns = ", ".join(("service_id", "bucket") + rollup.sql.columns)
    return dicts(await conn.fetch(f"SELECT {columns} FROM {await materialised(conn, rollup.name)} ORDER BY 1, 2"))


async def test_the_refresh_materialises_every_level_and_late_writes_are_read_at_once(conn, timescale_only):
    checks, calls = dataset()
    await write_checks(conn, checks, now=NOW)
    await write_api_calls(conn, calls, now=NOW)
    for zone in ("Europe/Berlin", "Asia/Kolkata", "UTC"):
        await rollups.refresh(conn, zone, NOW)
        assert await conn.fetchval("SELECT timezone FROM rollup_caggs WHERE rollup = 'checks_daily'") == zone
        assert await conn.fetchval("SELECT count(*) FROM rollup_invalidations") == 0
        for rollup in rollups.ROLLUPS:
            scratch = dicts(await rollups.aggregate_raw(conn, rollup, zone, None, *FAR))
            assert dicts(await rollups.read(conn, rollup, zone, None, *FAR)) == scratch, rollup.name
            assert await _materialised_rows(conn, rollup) == scratch, rollup.name  # all of it is past
    late = [
        CheckRow(BASE + timedelta(minutes=m, seconds=30), "face-compare", "virginia", False, None, None, "timeout")
        for m in range(0, 600, 5)
    ]
    await write_checks(conn, late, now=NOW)
    for rollup in rollups.ROLLUPS:
        assert dicts(await rollups.read(conn, rollup, "UTC", None, *FAR)) == dicts(
            await rollups.aggregate_raw(conn, rollup, "UTC", None, *FAR)
        )
    reports = await rollups.refresh(conn, "UTC", NOW)
    assert {r.rollup: r.ranges_recomputed for r in reports} == {"checks_hourly": 1, "checks_daily": 1, "usage_daily": 0}
    for rollup in (rollups.CHECKS_HOURLY, rollups.CHECKS_DAILY):
        scratch = dicts(await rollups.aggregate_raw(conn, rollup, "UTC", None, *FAR))
        assert await _materialised_rows(conn, rollup) == scratch


async def test_a_changed_service_is_read_live_then_rematerialised(conn, timescale_only):
    checks, _ = dataset(days=1)
    await write_checks(conn, checks, now=NOW)
    await rollups.refresh(conn, "UTC", NOW)
    daily = await rollups.read(conn, rollups.CHECKS_DAILY, "UTC", ["face-compare"], *FAR)
    failed = sum(r["failed_slots"] for r in daily)
    try:
        # What `slamon migrate` does when services.toml changes an interval: TimescaleDB does not track it.
        await conn.execute("UPDATE services SET interval_s = 120 WHERE id = 'face-compare'")
        await rollups.invalidate_service(conn, "face-compare")
        daily = await rollups.read(conn, rollups.CHECKS_DAILY, "UTC", ["face-compare"], *FAR)
        assert sum(r["downtime_s"] for r in daily) == failed * 120
        await rollups.refresh(conn, "UTC", NOW)
        assert await conn.fetchval("SELECT count(*) FROM rollup_invalidations") == 0
        rows = await _materialised_rows(conn, rollups.CHECKS_DAILY)
        assert sum(r["downtime_s"] for r in rows if r["service_id"] == "face-compare") == failed * 120
    finally:
        await sync_catalog(conn, load_catalog(ROOT / "services.toml"))


async def test_a_row_that_applied_another_target_is_read_live_and_restamped(conn, timescale_only):
    """A refresh policy may write buckets from a snapshot older than a change of `services`, after the
    worker restamped them (sql/tsl/092): nothing is logged then, and the row still reads exactly."""
    checks, calls = dataset(days=2)
    await write_checks(conn, checks, now=NOW)
    await write_api_calls(conn, calls, now=NOW)
    await rollups.refresh(conn, "Europe/Berlin", NOW)
    try:
        # The change without its log entry: what the late policy write leaves behind.
        await conn.execute("UPDATE services SET interval_s = 90, latency_target_ms = 200 WHERE id = 'face-compare'")
        assert await conn.fetchval("SELECT count(*) FROM rollup_invalidations") == 0
        # (The usage minutes are forced instead, under the aggregate's refresh lock: no such race.)
        for rollup in (rollups.CHECKS_HOURLY, rollups.CHECKS_DAILY):
            scratch = dicts(await rollups.aggregate_raw(conn, rollup, "Europe/Berlin", None, *FAR))
            assert dicts(await rollups.read(conn, rollup, "Europe/Berlin", None, *FAR)) == scratch, rollup.name
            assert await _materialised_rows(conn, rollup) != scratch, rollup.name  # not what a read takes
        # Logged (as app/services does with the change): the refresh rewrites that service's rows only.
        untouched = [
            r for r in await _materialised_rows(conn, rollups.CHECKS_DAILY) if r["service_id"] != "face-compare"
        ]
        await rollups.invalidate_service(conn, "face-compare")
        await rollups.refresh(conn, "Europe/Berlin", NOW)
        for rollup in rollups.ROLLUPS:
            scratch = dicts(await rollups.aggregate_raw(conn, rollup, "Europe/Berlin", None, *FAR))
            assert await _materialised_rows(conn, rollup) == scratch, rollup.name
            assert dicts(await rollups.read(conn, rollup, "Europe/Berlin", None, *FAR)) == scratch, rollup.name
        daily = await _materialised_rows(conn, rollups.CHECKS_DAILY)
        assert [r for r in daily if r["service_id"] != "face-compare"] == untouched
        assert any(r["over_target"] for r in daily if r["service_id"] == "face-compare")
    finally:
        await sync_catalog(conn, load_catalog(ROOT / "services.toml"))


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Europe/Berlin"])
async def test_the_days_past_the_daily_watermark_are_read_from_the_hourly_rows(conn, timescale_only, zone):
    """sql/tsl/093: the daily aggregate of checks has no real-time part; the days at or past its
    watermark are summed from the hourly aggregate, and an hour that straddles a day (Kolkata's days
    start at 18:30 UTC) from its slots, whatever changed since the refresh."""
    checks, _ = dataset(days=3)
    await write_checks(conn, checks, now=NOW)
    # Mid-history: one and a half days materialised, the rest read past the watermarks.
    await rollups.refresh(conn, zone, BASE + timedelta(hours=36, minutes=17))
    watermark = await conn.fetchval(caggs.WATERMARK, caggs.CHECKS_DAILY.view, caggs.EPOCH)
    assert BASE < watermark < BASE + timedelta(days=2)
    assert watermark.astimezone(ZoneInfo(zone)).time() == datetime.min.time()  # a day boundary in the zone
    materialised_days = await _materialised_rows(conn, rollups.CHECKS_DAILY)
    assert materialised_days and all(r["bucket"] < watermark for r in materialised_days)
    try:
        for step in ("refreshed", "changed", "late"):
            if step == "changed":  # an hourly row that applied another target: read live from raw rows
                await conn.execute(
                    "UPDATE services SET interval_s = 90, latency_target_ms = 200 WHERE id = 'face-compare'"
                )
            if step == "late":  # below the hourly watermark, past the daily one
                late = [
                    CheckRow(
                        watermark + timedelta(minutes=m, seconds=30),
                        "face-compare",
                        "seoul",
                        False,
                        None,
                        None,
                        "timeout",
                    )
                    for m in range(0, 180, 7)
                ]
                await write_checks(conn, late, now=NOW)
            scratch = dicts(await rollups.aggregate_raw(conn, rollups.CHECKS_DAILY, zone, None, *FAR))
            assert any(r["bucket"] >= watermark for r in scratch)
            assert dicts(await rollups.read(conn, rollups.CHECKS_DAILY, zone, None, *FAR)) == scratch, step
            ask = Ask(rollups.CHECKS_DAILY, rollups.CHECKS_DAILY.zone(zone), None, *FAR)
            slots = await rollups.CAGGS.read(conn, ask, rollups.SLOTS)
            assert dicts(slots) == [{k: r[k] for k in ("service_id", "bucket", *SLOT_COLUMNS)} for r in scratch], step
    finally:
        await sync_catalog(conn, load_catalog(ROOT / "services.toml"))


async def _refresh_as_before_092(conn, until: datetime) -> None:
    """What the refresh did to the aggregates of 090/091 (this code restamps columns of 092): every
    level in order, the first levels from the retention horizon on."""
    horizon = await conn.fetchval("SELECT dropped_before FROM raw_retention WHERE raw_table = 'checks'")
    for view in ORDER:
        start = horizon if horizon and view in ("cagg_check_slots", "cagg_usage_minutes") else caggs.EPOCH
        await conn.execute(caggs.REFRESH_ONE_PASS, view, start, until, False)
    await conn.execute("DELETE FROM rollup_invalidations")  # all of it re-materialised: nothing is forced here


async def test_a_database_of_the_joined_slots_migrates_and_keeps_its_dropped_days(
    pool, database_url, timescale_only, tmp_path
):
    """sql/tsl/092 on a database that ran the aggregates of 090/091 for a while: slots whose raw rows
    retention dropped are carried over, the rest is aggregated again; every rollup holds what it held."""
    sql = tmp_path / "sql"
    (sql / "tsl").mkdir(parents=True)
    for path in db.migration_files() + [p for p in db.tsl_migration_files() if p.name < "092"]:
        (sql / path.relative_to(db.SQL_DIR)).symlink_to(path)
    name = f"slamon_test_092_{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(database_url.rpartition("/")[0] + "/" + name)
    try:
        assert "tsl/091_caggs_one_pass.sql" in await db.migrate(conn, sql, backend="caggs")
        await sync_catalog(conn, load_catalog(ROOT / "services.toml"))
        checks, calls = dataset()
        await write_checks(conn, checks, now=NOW)
        await write_api_calls(conn, calls, now=NOW)
        later = BASE + timedelta(days=60)
        await _refresh_as_before_092(conn, later)
        await retention.apply(conn, later, 30, "UTC", timedelta(minutes=5))
        assert await conn.fetchval("SELECT count(*) FROM checks") == 0
        recent = [
            CheckRow(
                later - timedelta(days=2, minutes=m),
                s,
                "seoul",
                *((True, 200, 40 * m, None) if m % 4 else (False, 503, None, "http_error")),
            )
            for m in range(0, 600, 3)
            for s in SERVICES
        ]
        await write_checks(conn, recent, now=later)
        await _refresh_as_before_092(conn, later)
        before = {}
        for rollup in rollups.ROLLUPS:
            columns = ", ".join(("service_id", "bucket", *rollup.sql.columns))
            before[rollup.name] = dicts(await conn.fetch(f"SELECT {columns} FROM cagg_{rollup.name} ORDER BY 1, 2"))
        # (093 then alters the daily aggregate of checks in place: materialised-only.)
        assert await db.migrate(conn, backend="caggs") == [
            "tsl/092_caggs_slots_alone.sql",
            "tsl/093_caggs_daily_from_hours.sql",
        ]
        await rollups.refresh(conn, "UTC", later)
        for rollup in rollups.ROLLUPS:
            assert dicts(await rollups.read(conn, rollup, "UTC", None, *FAR)) == before[rollup.name], rollup.name
            assert await _materialised_rows(conn, rollup) == before[rollup.name], rollup.name
        daily = await rollups.read(conn, rollups.CHECKS_DAILY, "UTC", None, *FAR)
        got = {(r["service_id"], r["bucket"].date()): (r["slots"], r["ok_slots"]) for r in daily}
        assert got == pandas_checks_by_day(checks + recent, "UTC")
    finally:
        await conn.close()
        async with pool.acquire() as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_retention_keeps_the_aggregated_days_and_a_zone_change_recuts_them_from_the_slots(conn, timescale_only):
    checks, calls = dataset()
    await write_checks(conn, checks, now=NOW)
    await write_api_calls(conn, calls, now=NOW)
    later = BASE + timedelta(days=60)
    await rollups.refresh(conn, "UTC", later)
    before = {r.name: dicts(await rollups.read(conn, r, "UTC", None, *FAR)) for r in rollups.ROLLUPS}
    await retention.apply(conn, later, 30, "UTC", timedelta(minutes=5))
    assert await conn.fetchval("SELECT count(*) FROM checks") == 0
    # An invalidation of everything (a changed service, `rollups refresh --from`) must not reach the
    # dropped chunks: their aggregated rows would be deleted.
    await rollups.invalidate_range(conn, rollups.FAR_PAST, rollups.FAR_FUTURE)
    for _ in range(2):
        assert {r.name: dicts(await rollups.read(conn, r, "UTC", None, *FAR)) for r in rollups.ROLLUPS} == before
        await rollups.refresh(conn, "UTC", later)
    await rollups.refresh(conn, "Asia/Kolkata", later)
    daily = await rollups.read(conn, rollups.CHECKS_DAILY, "Asia/Kolkata", None, *FAR)
    kolkata = ZoneInfo("Asia/Kolkata")
    got = {(r["service_id"], r["bucket"].astimezone(kolkata).date()): (r["slots"], r["ok_slots"]) for r in daily}
    assert got == pandas_checks_by_day(checks, "Asia/Kolkata")


async def test_policies_real_time_and_compression_are_set(conn, timescale_only):
    views = {
        r["view_name"]: r["materialized_only"]
        for r in await conn.fetch(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
        )
    }
    # Real-time parts on all but the daily checks, whose readers sum the hourly rows past its watermark
    # (sql/tsl/093).
    assert views == {v: v == caggs.CHECKS_DAILY.view for v in caggs.VIEWS}
    # The jobs view names the materialization hypertable before 2.20 and the aggregate since.
    policies = await conn.fetch(
        "SELECT c.view_name, (j.config->>'start_offset')::interval AS start_offset, "
        "(j.config->>'buckets_per_batch')::int AS buckets_per_batch "
        "FROM timescaledb_information.jobs j JOIN timescaledb_information.continuous_aggregates c "
        "ON j.hypertable_name IN (c.materialization_hypertable_name, c.view_name) "
        "WHERE j.proc_name = 'policy_refresh_continuous_aggregate'"
    )
    assert sorted(r["view_name"] for r in policies) == sorted(caggs.VIEWS)
    # far inside the shortest raw retention (30 days): a policy never refreshes over dropped chunks
    assert all(r["start_offset"] <= timedelta(days=3) for r in policies)
    # one pass per run, not a batch per 10 one-second buckets (sql/tsl/091)
    assert all(r["buckets_per_batch"] == 0 for r in policies)
    compressed = {
        r["hypertable_name"]
        for r in await conn.fetch(
            "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE compression_enabled"
        )
    }
    assert {"checks", "api_calls"} <= compressed
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM timescaledb_information.jobs "
            "WHERE proc_name = 'policy_compression' AND hypertable_name IN ('checks', 'api_calls')"
        )
        == 2
    )
