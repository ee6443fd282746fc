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
