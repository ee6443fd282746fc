"""Reading a rollup equals aggregating the raw rows from scratch, whatever happened before:
late and replayed batches, refreshes at any moment, DST days in a non-UTC zone. On either edition:
the Apache rollup tables here, the continuous aggregates on a Timescale License server.

Two oracles: the rollup's own SELECT run over raw rows, and an independent pandas computation
(slots by majority of regions, day cut in the zone with zoneinfo)."""

import struct
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import db
from app.ingest.service import ApiCallRow, CheckRow, write_api_calls, write_checks
from app.rollups import queries, tables
from app.rollups import service as rollups
from app.rollups.queries import SLOT_COLUMNS
from tests.app.rollups.conftest import APACHE_ONLY, materialised
from tests.conftest import reset

# Around the 2025 autumn DST change in Europe and America (Nov 2 in New York, Oct 26 in Berlin).
BASE = datetime(2025, 10, 25, 12, tzinfo=timezone.utc)
SPAN_MIN = 60 * 24 * 10  # ten days of minute slots
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
SERVICES = ["id-recognition", "face-compare"]
REGIONS = ["seoul", "virginia", "frankfurt"]
FAR = (datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc))
NOW = BASE + timedelta(days=30)

check_rows = st.lists(
    st.builds(
        lambda minute, service, region, ok, latency: CheckRow(
            BASE + timedelta(minutes=minute),
            service,
            region,
            ok,
            200 if ok else 503,
            latency,
            None if ok else "http_error",
        ),
        st.integers(0, SPAN_MIN),
        st.sampled_from(SERVICES),
        st.sampled_from(REGIONS),
        st.booleans(),
        st.integers(0, 40_000),
    ),
    min_size=1,
    max_size=40,
)
call_rows = st.lists(
    st.builds(
        lambda second, service, status, latency: ApiCallRow(
            BASE + timedelta(seconds=second), service, "/v1", "POST", status, latency
        ),
        st.integers(0, SPAN_MIN * 60),
        st.sampled_from(SERVICES),
        st.sampled_from([200, 201, 404, 429, 500, 503]),
        st.integers(0, 40_000),
    ),
    min_size=1,
    max_size=40,
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("checks"), check_rows),
        st.tuples(st.just("calls"), call_rows),
        st.tuples(st.just("replay"), st.integers(0, 100)),
        st.tuples(st.just("refresh"), st.integers(0, SPAN_MIN)),
    ),
    min_size=1,
    max_size=12,
)


def pandas_checks_by_day(rows: list[CheckRow], zone: str) -> dict:
    if not rows:
        return {}
    df = pd.DataFrame(rows, columns=CheckRow._fields).drop_duplicates(["service_id", "ts", "region"])
    slots = df.groupby(["service_id", "ts"]).agg(regions=("ok", "size"), ok_regions=("ok", "sum")).reset_index()
    slots["ok"] = slots["ok_regions"] * 2 > slots["regions"]
    slots["day"] = slots["ts"].dt.tz_convert(ZoneInfo(zone)).dt.date
    out = slots.groupby(["service_id", "day"]).agg(slots=("ok", "size"), ok_slots=("ok", "sum"))
    return {k: (int(v["slots"]), int(v["ok_slots"])) for k, v in out.iterrows()}


def pandas_calls_by_day(rows: list[ApiCallRow], zone: str) -> dict:
    if not rows:
        return {}
    df = pd.DataFrame(rows, columns=ApiCallRow._fields)
    df["day"] = df["ts"].dt.tz_convert(ZoneInfo(zone)).dt.date
    df["ok"] = df["status_code"] == 200
    out = df.groupby(["service_id", "day"]).agg(calls=("ok", "size"), ok_200=("ok", "sum"), lat=("latency_ms", "sum"))
    return {k: (int(v["calls"]), int(v["ok_200"]), int(v["lat"])) for k, v in out.iterrows()}


def as_dicts(records) -> list[dict]:
    return [dict(r) for r in records]


def array_rows(arrays: list) -> list[tuple]:
    """read_arrays' rows as (service, bucket epoch, *slot columns), sorted."""
    return sorted(
        (r["service_id"], *values) for r in arrays for values in zip(r["bucket_epochs"], *(r[c] for c in SLOT_COLUMNS))
    )


def slot_rows(rows: list[dict]) -> list[tuple]:
    return sorted((r["service_id"], int(r["bucket"].timestamp()), *(r[c] for c in SLOT_COLUMNS)) for r in rows)


async def unpacked(conn) -> list[tuple]:
    """rollup_checks_daily_packs (sql/085) decoded here, independently of the reader: big-endian int8
    epochs and downtime, int4 counts."""
    rows = []
    for p in await conn.fetch("SELECT * FROM rollup_checks_daily_packs"):
        n = len(p["slots"]) // 4
        assert len(p["bucket_epochs"]) == len(p["downtime_s"]) == 8 * n
        columns = [
            struct.unpack(f">{n}q", p["bucket_epochs"]),
            struct.unpack(f">{n}i", p["slots"]),
            struct.unpack(f">{n}i", p["ok_slots"]),
            struct.unpack(f">{n}i", p["failed_slots"]),
            struct.unpack(f">{n}q", p["downtime_s"]),
        ]
        assert list(columns[0]) == sorted(columns[0])
        assert all(
            datetime.fromtimestamp(e, timezone.utc).strftime("%Y-%m") == p["month"].strftime("%Y-%m")
            for e in columns[0]
        )
        rows += [(p["service_id"], *values) for values in zip(*columns)]
    return sorted(rows)


async def packs_equal_the_table(conn) -> bool:
    table = await conn.fetch(
        "SELECT service_id, date_part('epoch', bucket)::bigint AS epoch, slots, ok_slots, "
        "failed_slots, downtime_s FROM rollup_checks_daily ORDER BY 1, 2"
    )
    return await unpacked(conn) == [tuple(r) for r in table]


async def first_levels_hold_their_raw_rows(conn) -> bool:
    """The Apache hierarchy's first levels (sql/200) hold exactly their SELECT over the raw rows before
    their watermark, once no invalidation is pending: one row per slot with the majority verdict, one
    per minute of calls."""
    marks = {r["rollup"]: r["watermark"] for r in await conn.fetch("SELECT rollup, watermark FROM rollup_state")}
    slots_mark = marks.get("check_slots") or datetime.min.replace(tzinfo=timezone.utc)
    minutes_mark = marks.get("usage_minutes") or datetime.min.replace(tzinfo=timezone.utc)
    stored_slots = await conn.fetch("SELECT service_id, ts, ok, latency_ms FROM rollup_check_slots ORDER BY 1, 2")
    raw_slots = await conn.fetch(
        queries.CHECK_SLOTS.format(where="c.ts < $1") + " ORDER BY 1, 2",
        slots_mark,
    )
    columns = ", ".join(("service_id", "bucket") + queries.USAGE_COLUMNS)
    stored_minutes = await conn.fetch(f"SELECT {columns} FROM rollup_usage_minutes ORDER BY 1, 2")
    raw_minutes = await conn.fetch(
        queries.USAGE_BUCKETS.format(
            where="($1::text[] IS NULL OR c.service_id = ANY($1)) AND c.ts >= $2 AND c.ts < $3"
        )
        + " ORDER BY 1, 2",
        None,
        FAR[0],
        minutes_mark,
        timedelta(minutes=1),
        "UTC",
    )
    return [tuple(r) for r in stored_slots] == [tuple(r) for r in raw_slots] and [tuple(r) for r in stored_minutes] == [
        tuple(r) for r in raw_minutes
    ]


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).astimezone(timezone.utc)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zone=st.sampled_from(ZONES), ops=operations, final_refresh=st.booleans())
async def test_every_rollup_read_equals_a_from_scratch_aggregate(pool, monkeypatch, zone, ops, final_refresh):
    async with pool.acquire() as conn:
        await reset(conn)
        batches: list[tuple[str, list]] = []
        written_checks: list[CheckRow] = []
        written_calls: list[ApiCallRow] = []
        for kind, arg in ops:
            if kind == "replay":
                if not batches:
                    continue
                kind, arg = batches[arg % len(batches)]
            if kind == "checks":
                await write_checks(conn, arg, now=NOW)
                written_checks += arg
                batches.append((kind, arg))
            elif kind == "calls":
                await write_api_calls(conn, arg, now=NOW)
                written_calls += arg
                batches.append((kind, arg))
            else:  # refresh as if the worker ran at this moment
                await rollups.refresh(conn, zone, BASE + timedelta(minutes=arg), grace=timedelta(minutes=3))
        if final_refresh:
            await rollups.refresh(conn, zone, NOW)

        for rollup in rollups.ROLLUPS:
            read = as_dicts(await rollups.read(conn, rollup, zone, None, *FAR))
            scratch = as_dicts(await rollups.aggregate_raw(conn, rollup, zone, None, *FAR))
            assert read == scratch, rollup.name
            async with conn.transaction():  # in a caller's transaction the one-statement reader serves
                assert as_dicts(await rollups.read(conn, rollup, zone, None, *FAR)) == scratch, rollup.name
            if rollup.sql.slots:  # the narrow reader of the day grids: the same figures
                slots = as_dicts(await rollups.read(conn, rollup, zone, None, *FAR, columns=rollups.SLOTS))
                assert slots == [{k: r[k] for k in ("service_id", "bucket", *SLOT_COLUMNS)} for r in scratch], (
                    rollup.name
                )
                arrays = await rollups.read_arrays(conn, rollup, zone, None, *FAR)
                assert array_rows(arrays) == slot_rows(scratch), rollup.name

        if final_refresh and not await rollups.uses_caggs(conn):
            # the levels the hourly and daily buckets are made from (before a refresh, a late write's
            # rows are read from raw rows and wait in the invalidation log)
            assert await first_levels_hold_their_raw_rows(conn)

        # The daily figures as the status grid reads them: the packs (sql/085) always hold the table's
        # rows, and a range that cuts months in the middle gives the buckets in it, whether or not the
        # packs are read (here from any length of settled days).
        assert await packs_equal_the_table(conn)
        cut = (local_midnight(date(2025, 10, 27), zone), local_midnight(date(2025, 11, 3), zone))
        scratch = as_dicts(await rollups.aggregate_raw(conn, rollups.CHECKS_DAILY, zone, None, *cut))
        for packs_from in (tables.PACKS_FROM, timedelta(0)):
            monkeypatch.setattr(tables, "PACKS_FROM", packs_from)
            arrays = await rollups.read_arrays(conn, rollups.CHECKS_DAILY, zone, None, *cut)
            assert array_rows(arrays) == slot_rows(scratch), packs_from

        daily = await rollups.read(conn, rollups.CHECKS_DAILY, zone, None, *FAR)
        local = ZoneInfo(zone)
        got = {(r["service_id"], r["bucket"].astimezone(local).date()): (r["slots"], r["ok_slots"]) for r in daily}
        assert all(r["bucket"].astimezone(local).time() == datetime.min.time() for r in daily)
        assert got == pandas_checks_by_day(written_checks, zone)

        usage = await rollups.read(conn, rollups.USAGE_DAILY, zone, None, *FAR)
        got = {
            (r["service_id"], r["bucket"].astimezone(local).date()): (r["calls"], r["ok_200"], r["latency_sum_ms"])
            for r in usage
        }
        replayed_calls = pandas_calls_by_day(written_calls, zone)  # calls without request_id count every write
        assert got == replayed_calls


async def test_refresh_materialises_and_reads_do_not_depend_on_it(conn):
    rows = [
        CheckRow(
            BASE + timedelta(minutes=m), "face-compare", "seoul", m % 5 != 0, 200, 100 + m, None if m % 5 else "timeout"
        )
        for m in range(3000)
    ]
    await write_checks(conn, rows, now=NOW)
    before = as_dicts(await rollups.read(conn, rollups.CHECKS_HOURLY, "UTC", ["face-compare"], *FAR))
    await rollups.refresh(conn, "UTC", NOW)
    assert await conn.fetchval(f"SELECT count(*) FROM {await materialised(conn, 'checks_hourly')}") == 50
    assert await conn.fetchval("SELECT count(*) FROM rollup_invalidations") == 0
    after = as_dicts(await rollups.read(conn, rollups.CHECKS_HOURLY, "UTC", ["face-compare"], *FAR))
    assert before == after
    assert sum(r["failed_slots"] for r in after) == 600
    assert sum(r["downtime_s"] for r in after) == 600 * 60


async def test_late_batch_below_the_watermark_is_seen_at_once_and_recomputed_by_refresh(conn):
    early = [CheckRow(BASE + timedelta(minutes=m), "face-compare", "seoul", True, 200, 100) for m in range(0, 600, 2)]
    await write_checks(conn, early, now=NOW)
    await rollups.refresh(conn, "Europe/Berlin", NOW)
    late = [
        CheckRow(BASE + timedelta(minutes=m), "face-compare", "seoul", False, None, None, "timeout")
        for m in range(1, 600, 2)
    ]
    await write_checks(conn, late, now=NOW)
    for rollup in (rollups.CHECKS_HOURLY, rollups.CHECKS_DAILY):
        read = await rollups.read(conn, rollup, "Europe/Berlin", None, *FAR)
        assert sum(r["failed_slots"] for r in read) == 300
    reports = await rollups.refresh(conn, "Europe/Berlin", NOW)
    assert {r.rollup: r.ranges_recomputed for r in reports} == {"checks_hourly": 1, "checks_daily": 1, "usage_daily": 0}
    assert await conn.fetchval(f"SELECT sum(failed_slots) FROM {await materialised(conn, 'checks_daily')}") == 300
    assert await packs_equal_the_table(conn)


async def test_changing_the_reporting_zone_rebuilds_the_daily_buckets(conn):
    rows = [CheckRow(BASE + timedelta(minutes=m), "face-compare", "seoul", True, 200, 100) for m in range(0, 4000, 10)]
    await write_checks(conn, rows, now=NOW)
    await rollups.refresh(conn, "UTC", NOW)
    await rollups.refresh(conn, "Asia/Kolkata", NOW)
    daily = await conn.fetch(f"SELECT bucket FROM {await materialised(conn, 'checks_daily')}")
    kolkata = ZoneInfo("Asia/Kolkata")
    assert daily and all(r["bucket"].astimezone(kolkata).time() == datetime.min.time() for r in daily)
    assert as_dicts(await rollups.read(conn, rollups.CHECKS_DAILY, "Asia/Kolkata", None, *FAR)) == as_dicts(
        await rollups.aggregate_raw(conn, rollups.CHECKS_DAILY, "Asia/Kolkata", None, *FAR)
    )
    assert await packs_equal_the_table(conn)


async def test_the_daily_packs_follow_every_statement_on_the_daily_rollup(conn):
    if await rollups.uses_caggs(conn):
        pytest.skip(APACHE_ONLY)
    rows = [
        CheckRow(BASE + timedelta(minutes=m), sid, "seoul", m % 7 != 0, 200, 100, None if m % 7 else "timeout")
        for m in range(0, 60 * 24 * 40, 30)
        for sid in ("face-compare", "id-recognition")
    ]
    await write_checks(conn, rows, now=NOW + timedelta(days=40))
    await rollups.refresh(conn, "UTC", NOW + timedelta(days=40))
    months = await conn.fetch("SELECT service_id, month FROM rollup_checks_daily_packs ORDER BY 1, 2")
    assert [(r["service_id"], r["month"].strftime("%Y-%m")) for r in months] == [
        (sid, m) for sid in ("face-compare", "id-recognition") for m in ("2025-10", "2025-11", "2025-12")
    ]
    assert await packs_equal_the_table(conn)
    day = BASE.replace(hour=0) + timedelta(days=10)
    await conn.execute(
        "UPDATE rollup_checks_daily SET slots = slots + 5, bucket = bucket + interval '40 days' "
        "WHERE service_id = 'face-compare' AND bucket = $1",
        day,
    )
    assert await packs_equal_the_table(conn)
    await conn.execute("DELETE FROM rollup_checks_daily WHERE service_id = 'id-recognition' AND bucket >= $1", day)
    assert await packs_equal_the_table(conn)
    await conn.execute("TRUNCATE rollup_checks_daily")
    assert await conn.fetchval("SELECT count(*) FROM rollup_checks_daily_packs") == 0


WRITES_TO_PACKS = (
    "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables WHERE relname = 'rollup_checks_daily_packs'"
)


async def test_the_open_days_pack_is_patched_in_place_and_stays_equal_to_the_table(conn):
    """sql/340: the refresh's advance updates the open day of each service every minute; its month's
    pack is patched at its end instead of rebuilt, and any other update still rebuilds it."""
    if await rollups.uses_caggs(conn):
        pytest.skip(APACHE_ONLY)
    start = BASE.replace(hour=0) + timedelta(days=5)
    for minute in range(0, 60 * 24 * 2, 20):  # two days; refreshed every 20 minutes
        at = start + timedelta(minutes=minute)
        ok = minute % 60 != 0
        rows = [CheckRow(at, sid, "seoul", ok, 200, 120, None if ok else "timeout") for sid in SERVICES]
        await write_checks(conn, rows, now=at + timedelta(minutes=1))
        async with conn.transaction():  # the counts of this transaction's writes: after - before
            before = await conn.fetchrow(WRITES_TO_PACKS)
            await rollups.refresh(conn, "UTC", at + timedelta(minutes=1), grace=timedelta(0))
            after = await conn.fetchrow(WRITES_TO_PACKS)
        if minute % (60 * 24) != 0:  # the open day updated: its pack patched, not deleted and rebuilt
            assert [after[c] - before[c] for c in ("n_tup_ins", "n_tup_upd", "n_tup_del")] == [0, len(SERVICES), 0]
    assert await packs_equal_the_table(conn)
    last = start + timedelta(days=1)
    packs_before = await conn.fetchval("SELECT count(*) FROM rollup_checks_daily_packs")
    # the last day of one service and an earlier day of the other, in one statement
    await conn.execute(
        "UPDATE rollup_checks_daily SET slots = slots + 3, downtime_s = downtime_s + 7 "
        "WHERE (service_id = $1 AND bucket = $2) OR (service_id = $3 AND bucket = $4)",
        SERVICES[0],
        last,
        SERVICES[1],
        start,
    )
    assert await packs_equal_the_table(conn)
    # two days of one month in one statement
    await conn.execute("UPDATE rollup_checks_daily SET ok_slots = ok_slots + 1 WHERE service_id = $1", SERVICES[0])
    assert await packs_equal_the_table(conn)
    assert await conn.fetchval("SELECT count(*) FROM rollup_checks_daily_packs") == packs_before


async def test_the_packed_read_checks_the_floor_it_reads_raw_rows_from(conn):
    """The one-statement packed read (queries.PackedSql) in its `recent` form reads raw rows only from a
    day before the statement's start: with a watermark older than that (here: data of 2025) it says
    the floor does not hold and gives no buckets, the reader reads `whole` instead, and the process
    remembers it (tables.PackedFloors) until a read finds the floor holding again. Either way the
    figures are the raw rows' own."""
    if await rollups.uses_caggs(conn):
        pytest.skip(APACHE_ONLY)
    rows = [
        CheckRow(BASE + timedelta(minutes=m), sid, "seoul", m % 11 != 0, 200, 100, None if m % 11 else "timeout")
        for m in range(0, 60 * 24 * 40, 20)
        for sid in SERVICES
    ]
    await write_checks(conn, rows, now=NOW + timedelta(days=40))
    watermark_at = BASE + timedelta(days=30, hours=5)
    await rollups.refresh(conn, "UTC", watermark_at, grace=timedelta(0))  # the last ten days stay raw
    scratch = slot_rows(as_dicts(await rollups.aggregate_raw(conn, rollups.CHECKS_DAILY, "UTC", None, *FAR)))
    packed = rollups.CHECKS_DAILY.sql.packed
    assert packed is not None
    args = (None, *FAR, rollups.CHECKS_DAILY.width, "UTC", rollups.CHECKS_DAILY.name)

    recent = await conn.fetch(packed.recent, *args)
    assert [(r["floor_holds"], r["part"]) for r in recent] == [(False, None)]  # nothing short of every row
    whole = await conn.fetch(packed.whole, *args)
    assert {(r["floor_holds"], r["recent_floor_holds"]) for r in whole} == {(True, False)}
    assert {r["part"] for r in whole} == {0, 1}

    missed = db.memory(conn).of(tables.PackedFloors).missed
    key = (rollups.CHECKS_DAILY.name, "UTC")
    for was_missed in (False, True):
        if was_missed:
            missed.add(key)
        else:
            missed.discard(key)
        assert array_rows(await rollups.read_arrays(conn, rollups.CHECKS_DAILY, "UTC", None, *FAR)) == scratch
        assert key in missed, was_missed


async def test_a_cached_packed_read_sees_raw_rows_in_a_chunk_made_after_it(conn):
    """The recent floor keeps the packed read's plan to the chunks of the last day when it was planned,
    and the pool plans generically (db.SESSION_SETTINGS): a chunk created later must still be read. It
    is: TimescaleDB invalidates the cached plans of a hypertable when it adds a chunk. (Data up to the
    real present, so that the recent form serves.)"""
    if await rollups.uses_caggs(conn):
        pytest.skip(APACHE_ONLY)
    assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
    present = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    start = present - timedelta(days=35)
    rows = [
        CheckRow(
            start + timedelta(minutes=m), "face-compare", "seoul", m % 3 != 0, 200, 100, None if m % 3 else "timeout"
        )
        for m in range(0, 60 * 24 * 35, 10)
    ]
    await write_checks(conn, rows, now=present + timedelta(days=5))
    await rollups.refresh(conn, "UTC", rows[-1].ts + timedelta(minutes=1), grace=timedelta(0))
    far = (start - timedelta(days=1), present + timedelta(days=5))
    key = (rollups.CHECKS_DAILY.name, "UTC")
    missed = db.memory(conn).of(tables.PackedFloors).missed

    async def read() -> list[tuple]:
        return array_rows(await rollups.read_arrays(conn, rollups.CHECKS_DAILY, "UTC", None, *far))

    for _ in range(3):  # the recent form's statement cached and planned
        await read()
        assert key not in missed
    chunks = await conn.fetchval("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'checks'")
    later = [
        CheckRow(rows[-1].ts + timedelta(days=d, minutes=m), "face-compare", "seoul", False, None, None, "timeout")
        for d in (2, 3)
        for m in range(0, 30, 10)
    ]
    await write_checks(conn, later, now=present + timedelta(days=5))
    assert (
        await conn.fetchval("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'checks'")
        == chunks + 2
    )
    scratch = slot_rows(as_dicts(await rollups.aggregate_raw(conn, rollups.CHECKS_DAILY, "UTC", None, *far)))
    later_days = {int(datetime.combine(r.ts.date(), datetime.min.time(), timezone.utc).timestamp()) for r in later}
    assert later_days <= {r[1] for r in scratch}  # so the read below has them too
    assert await read() == scratch
    assert key not in missed


async def test_a_late_region_report_recomputes_its_slot_then_the_buckets_above_it(conn):
    """The hierarchy on the Apache edition: a region reporting late flips a slot's majority; the refresh
    recomputes that slot from raw rows, its hour from the slots and its day from the hours, and from
    the slots of an hour that straddles two days (Kathmandu's midnight is 18:15 UTC)."""
    if await rollups.uses_caggs(conn):
        pytest.skip(APACHE_ONLY)
    zone = "Asia/Kathmandu"
    noon, before_midnight, after_midnight = (BASE + timedelta(minutes=m) for m in (30, 6 * 60 + 10, 6 * 60 + 20))
    slots = (noon, before_midnight, after_midnight)
    await write_checks(
        conn,
        [
            row
            for ts in slots
            for row in (
                CheckRow(ts, "face-compare", "seoul", True, 200, 120),
                CheckRow(ts, "face-compare", "virginia", False, 503, 900, "http_error"),
            )
        ],
        now=NOW,
    )
    await rollups.refresh(conn, zone, NOW)
    assert await conn.fetchval("SELECT bool_or(ok) FROM rollup_check_slots") is False  # ties fail
    await write_checks(conn, [CheckRow(ts, "face-compare", "frankfurt", True, 200, 80) for ts in slots], now=NOW)
    reports = await rollups.refresh(conn, zone, NOW)
    assert {r.rollup: r.ranges_recomputed for r in reports} == {"checks_hourly": 1, "checks_daily": 1, "usage_daily": 0}
    assert [tuple(r) for r in await conn.fetch("SELECT ok, latency_ms FROM rollup_check_slots ORDER BY ts")] == [
        (True, 80)
    ] * 3
    for rollup, expected in (
        (rollups.CHECKS_HOURLY, [(1, 0, 80), (2, 0, 160)]),
        (rollups.CHECKS_DAILY, [(2, 0, 160), (1, 0, 80)]),
    ):
        rows = await conn.fetch(
            f"SELECT ok_slots, failed_slots, latency_sum_ms FROM {rollup.sql.table} ORDER BY bucket"
        )
        assert [tuple(r) for r in rows] == expected, rollup.name
        table = as_dicts(await conn.fetch(f"SELECT * FROM {rollup.sql.table} ORDER BY 1, 2"))
        assert table == as_dicts(await rollups.aggregate_raw(conn, rollup, zone, None, *FAR)), rollup.name
    assert await first_levels_hold_their_raw_rows(conn)


async def test_rollups_from_before_the_first_levels_existed_stay_exact(conn):
    """sql/200 adds the first levels beside existing hourly and daily buckets: the next refresh fills
    them from raw rows, and late writes are then recomputed from them."""
    if await rollups.uses_caggs(conn):
        pytest.skip(APACHE_ONLY)
    rows = [
        CheckRow(
            BASE + timedelta(minutes=m), "face-compare", "seoul", m % 7 != 0, 200, 100 + m, None if m % 7 else "timeout"
        )
        for m in range(900)
    ]
    calls = [ApiCallRow(BASE + timedelta(seconds=17 * i), "face-compare", "/v1", "POST", 200, i) for i in range(900)]
    await write_checks(conn, rows, now=NOW)
    await write_api_calls(conn, calls, now=NOW)
    await rollups.refresh(conn, "Europe/Berlin", NOW - timedelta(days=29, hours=12))
    # as a deployment upgraded to sql/200 finds them: buckets materialised, first levels empty
    await conn.execute("TRUNCATE rollup_check_slots, rollup_usage_minutes")
    await conn.execute("DELETE FROM rollup_state WHERE rollup IN ('check_slots', 'usage_minutes')")
    late = [
        CheckRow(BASE + timedelta(minutes=m), "face-compare", "virginia", False, 503, 5, "http_error")
        for m in range(0, 900, 3)
    ]
    await write_checks(conn, late, now=NOW)
    await rollups.refresh(conn, "Europe/Berlin", NOW)
    assert await first_levels_hold_their_raw_rows(conn)
    for rollup in rollups.ROLLUPS:
        table = as_dicts(await conn.fetch(f"SELECT * FROM {rollup.sql.table} ORDER BY 1, 2"))
        scratch = as_dicts(await rollups.aggregate_raw(conn, rollup, "Europe/Berlin", None, *FAR))
        assert table == scratch, rollup.name
