"""Certificate-expiry reporting: what a check saw of a TLS certificate is exported in /metrics,
stored per service and region (when it changes, and hourly), and shown by GET /api/services."""

import asyncio
import time
from datetime import datetime, timezone

from prober.models import ProbeResult
from prober.runner import Prober, ProberOptions
from tests.prober.conftest import target

NOT_AFTER = 1_900_000_000  # 2030-03-17


def _options(database_url, tmp_path):
    return ProberOptions(
        region="cert-region",
        prober_id="cert-p0",
        database_url=database_url,
        redis_url=None,
        data_dir=tmp_path,
        heartbeat_s=0.2,
        ttl_s=1.0,
        handover_delay_s=0.0,
        flush_interval_s=0.2,
        targets_refresh_s=3600,
    )


async def test_certificate_expiry_is_exported_stored_and_listed(conn, database_url, tmp_path, make_client):
    tls = target("https://127.0.0.1:1/", service_id="face-compare")

    async def source():
        return [tls]

    prober = Prober(_options(database_url, tmp_path), targets=source)
    await prober.start()
    try:
        prober.on_result(tls, int(time.time()), ProbeResult(True, 20, 200, cert_expires_at=NOT_AFTER), 0.0)
        assert f'service_id="face-compare"}} {NOT_AFTER}' in prober.metrics.render()
        for _ in range(50):
            row = await conn.fetchrow("SELECT * FROM service_certificates WHERE service_id = 'face-compare'")
            if row:
                break
            await asyncio.sleep(0.1)
        assert row["region"] == "cert-region"
        assert row["not_after"] == datetime.fromtimestamp(NOT_AFTER, timezone.utc)
        checked_at = row["checked_at"]

        # an unchanged expiry is not written again within the hour; a renewed certificate is at once
        prober.on_result(tls, int(time.time()), ProbeResult(True, 20, 200, cert_expires_at=NOT_AFTER), 0.0)
        await asyncio.sleep(0.6)
        assert await conn.fetchval("SELECT checked_at FROM service_certificates") == checked_at
        prober.on_result(tls, int(time.time()), ProbeResult(True, 20, 200, cert_expires_at=NOT_AFTER + 86400), 0.0)
        for _ in range(50):
            if await conn.fetchval("SELECT not_after FROM service_certificates") != row["not_after"]:
                break
            await asyncio.sleep(0.1)
        assert await conn.fetchval("SELECT count(*) FROM service_certificates") == 1
    finally:
        await prober.stop(grace_s=1)

    client = await make_client()
    services = {s["id"]: s for s in (await client.get("/api/services")).json()["services"]}
    assert services["face-compare"]["certificateExpiresAt"] == "2030-03-18T17:46:40Z"
    assert services["id-recognition"]["certificateExpiresAt"] is None
