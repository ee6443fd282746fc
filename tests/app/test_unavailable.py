"""The real app with its pool pointed at a port where no database listens: every request that needs
the database answers 503 with Retry-After (never 500), liveness stays 200, readiness names the
database; a bug that happens to be an OSError (a missing file) is still a 500."""

import asyncpg
import httpx

from app.main import create_app
from tests.prober.servers import closed_port


async def test_unreachable_database_is_a_503_with_retry_after(settings):
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/slamon"
    app = create_app(settings.model_copy(update={"database_url": url}))
    app.state.pool = await asyncpg.create_pool(url, min_size=0, max_size=2)

    @app.get("/test-missing-file")
    async def missing_file():
        open("/nonexistent/slamon-test")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/api/system-status", "/api/services", "/api/health", "/api/incidents/past"):
            response = await client.get(path)
            assert (path, response.status_code) == (path, 503)
            assert response.headers["Retry-After"] == "5" and response.json()["error"] == "service_unavailable"
        assert (await client.get("/api/health/live")).status_code == 200
        ready = await client.get("/api/health/ready")
        assert ready.status_code == 503 and [d["field"] for d in ready.json()["details"]] == ["database", "redis"]
        assert ready.json()["details"][1]["message"] == "ok"  # Redis is up: only the database is named
        assert (await client.get("/test-missing-file")).status_code == 500
    await app.state.pool.close()
