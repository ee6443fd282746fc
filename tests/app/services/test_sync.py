"""The catalog sync of `slamon migrate` (app/services/service.py sync_catalog), one statement for the
whole file: what it reports inserted, updated and archived, in the file's order, and the rollups of a
service whose interval or latency target changed marked stale (and only those)."""

from app.services.models import ServiceConfig
from app.services.service import SyncResult, load_catalog, sync_catalog
from tests.app.services.conftest import restore_catalog
from tests.conftest import ROOT


async def stale_services(conn) -> set[str]:
    return {r["service_id"] for r in await conn.fetch("SELECT DISTINCT service_id FROM rollup_invalidations")}


async def test_one_sync_reports_what_changed_and_invalidates_only_rollup_inputs(conn):
    catalog = load_catalog(ROOT / "services.toml")
    try:
        await sync_catalog(conn, catalog)
        assert await sync_catalog(conn, catalog) == SyncResult([], [], [])  # as it is: nothing
        await conn.execute("DELETE FROM rollup_invalidations")
        first, second, third, *rest = catalog
        extra = [ServiceConfig(id=f"sync-{i}", name=f"Sync {i}") for i in range(3)]
        extra_ids = [s.id for s in extra]
        changed = [
            first.model_copy(update={"interval_s": first.interval_s * 2}),  # a rollup input
            second.model_copy(update={"name": second.name + " (renamed)"}),  # not one
            third.model_copy(update={"latency_target_ms": third.latency_target_ms + 1}),  # a rollup input
            *rest,
            *extra,
        ]
        result = await sync_catalog(conn, changed)
        assert (result.updated, result.inserted, result.deactivated) == ([first.id, second.id, third.id], extra_ids, [])
        assert await stale_services(conn) == {first.id, third.id}
        changed.remove(extra[-1])  # left out of the file: archived (the others keep their positions)
        result = await sync_catalog(conn, changed)
        assert (result.updated, result.inserted, result.deactivated) == ([], [], [extra[-1].id])
        rows = await conn.fetch(
            "SELECT id, position, is_active FROM services WHERE id = ANY($1::text[])", [s.id for s in changed]
        )
        assert {r["id"]: r["position"] for r in rows} == {s.id: i for i, s in enumerate(changed)}
        assert await sync_catalog(conn, changed) == SyncResult([], [], [])  # again: nothing
    finally:
        await restore_catalog(conn)  # the extra services deleted, the file's values back


async def changes_logged(conn) -> set[tuple[str, str]]:
    """(job, service) of every configuration change the worker's jobs were told about (sql/330)."""
    rows = await conn.fetch("SELECT job, service_id FROM job_changes WHERE written_lo = '-infinity'")
    return {(r["job"], r["service_id"]) for r in rows}


def for_jobs(ids) -> set[tuple[str, str]]:
    return {(job, sid) for sid in ids for job in ("slo", "detection")}


async def test_a_catalog_of_10000_services_syncs_as_one_of_a_few(conn):
    """The same results at 10,000 services: the services as the file has them, what changed (in the
    file's order), the rollups and the jobs told of exactly the changed services, nothing touched when
    nothing changed."""
    catalog = load_catalog(ROOT / "services.toml")
    bulk = [
        ServiceConfig(
            id=f"bulk-{i:05d}",
            name=f"Bulk {i}",
            description=f"service number {i}",
            tier=("developer", "professional", "enterprise", "enterprise_plus")[i % 4],
            interval_s=(60, 30, 300)[i % 3],
            latency_target_ms=1000 + i % 50,
        )
        for i in range(10_000)
    ]
    bulk_ids = [s.id for s in bulk]
    try:
        await conn.execute("DELETE FROM job_changes")
        result = await sync_catalog(conn, [*catalog, *bulk])
        assert (result.inserted, result.updated, result.deactivated) == (bulk_ids, [], [])
        assert await changes_logged(conn) == for_jobs(bulk_ids)
        rows = {
            r["id"]: r
            for r in await conn.fetch(
                "SELECT id, name, description, tier, interval_s, latency_target_ms, position, is_active, managed_by, "
                "xmin::text AS xmin FROM services WHERE id = ANY($1::text[])",
                bulk_ids,
            )
        }
        offset = len(catalog)
        assert [
            (r["name"], r["description"], r["tier"], r["interval_s"], r["latency_target_ms"], r["position"])
            for r in (rows[s.id] for s in bulk)
        ] == [
            (s.name, s.description, s.tier, s.interval_s, s.latency_target_ms, offset + i) for i, s in enumerate(bulk)
        ]
        assert all(r["is_active"] and r["managed_by"] == "config" for r in rows.values())

        await conn.execute("DELETE FROM job_changes")
        await conn.execute("DELETE FROM rollup_invalidations")
        assert await sync_catalog(conn, [*catalog, *bulk]) == SyncResult([], [], [])  # unchanged
        assert await changes_logged(conn) == set() and await stale_services(conn) == set()
        unchanged = await conn.fetch("SELECT id, xmin::text AS xmin FROM services WHERE id = ANY($1::text[])", bulk_ids)
        assert {r["id"]: r["xmin"] for r in unchanged} == {sid: r["xmin"] for sid, r in rows.items()}  # none rewritten

        renamed = {s.id for s in bulk[::3]}
        slower = {s.id for s in bulk[::7]}
        dropped = bulk_ids[-100:]
        edited = [
            s.model_copy(
                update={
                    "name": s.name + " (renamed)" if s.id in renamed else s.name,
                    "interval_s": s.interval_s * 2 if s.id in slower else s.interval_s,
                }
            )
            for s in bulk[:-100]
        ]
        result = await sync_catalog(conn, [*catalog, *edited])
        expected_updates = [s.id for s in edited if s.id in renamed or s.id in slower]
        assert (result.inserted, result.updated, sorted(result.deactivated)) == ([], expected_updates, dropped)
        assert await stale_services(conn) == slower - set(dropped)
        assert await changes_logged(conn) == for_jobs([*expected_updates, *dropped])
        names = {
            r["id"]: r["name"] for r in await conn.fetch("SELECT id, name FROM services WHERE id = ANY($1)", bulk_ids)
        }
        assert all(names[s.id] == s.name for s in edited)
        inactive = await conn.fetch("SELECT id FROM services WHERE id = ANY($1::text[]) AND NOT is_active", bulk_ids)
        assert sorted(r["id"] for r in inactive) == dropped
    finally:
        await restore_catalog(conn)
