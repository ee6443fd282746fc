"""The console's /slo page: a service's SLOs this month with their forecast (docs/sla-math.md
"Forecasts"), the same figures as GET /api/slo/{id}/forecast, and its open forecast alerts; for every
signed-in role."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app import deps
from tests.pages.console.conftest import sign_in
from tests.workers.conftest import write_slots
from workers import forecast

SID = "face-compare"
NOW = datetime(2025, 8, 20, 12, 0, 30, tzinfo=timezone.utc)


@pytest.fixture
async def console_at(pool, settings, console_db):
    """A console client with the clock at NOW, in UTC, and the app's settings."""
    from app.main import create_app

    app_settings = settings.model_copy(update={"timezone": "UTC"})
    app = create_app(app_settings, site="console")
    app.state.pool = pool
    app.dependency_overrides[deps.clock] = lambda: NOW
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)), base_url="http://console.test"
    ) as client:
        yield client, app_settings


async def burn_the_budget(conn) -> None:
    """22 of face-compare's 22.32 August minutes spent, the last 18 in the last three days."""
    day = "." * 120 + "{}" + "." * 1300
    pattern = "".join(day.format("." * 20) for _ in range(13)) + "".join(day.format("x" + "." * 19) for _ in range(4))
    pattern += "".join(day.format("x" * 6 + "." * 14) for _ in range(3))
    await write_slots(conn, SID, datetime(2025, 8, 1, tzinfo=timezone.utc), pattern[: 19 * 1440 + 12 * 60])


@pytest.mark.parametrize("role", ["viewer", "admin"])
async def test_the_slo_page_shows_the_forecast_and_the_open_alert(console_at, console_db, pool, role):
    client, app_settings = console_at
    await burn_the_budget(console_db)
    assert await forecast.sweep_forecasts({"settings": app_settings, "pool": pool}, NOW) == [
        f"opened:{SID}:availability"
    ]
    await sign_in(client, console_db, role)
    r = await client.get(f"/slo?service={SID}&lang=en")
    assert r.status_code == 200, r.text
    html = r.text
    assert 'href="/slo" aria-current="page"' in html and f'data-service="{SID}"' in html
    assert html.count("<tr data-slo=") == 7
    availability = html.split('<tr data-slo="availability">')[1].split("</tr>")[0]
    assert "0.32 / 22.32 min" in availability and "data-alerting" in availability
    # the forecast's own figure (1 - 0.65^12 = 99.4 %, as simulated), as the alert stored it
    stored = await console_db.fetchval("SELECT miss_probability FROM slo_forecast_alerts WHERE slo = 'availability'")
    assert 0.99 < stored and f"<td data-miss>{round(float(stored) * 100)}%</td>" in availability
    # 0.32 minutes at the last 7 days' 22 in 6.5 days: at 14:16 UTC
    runs_out = NOW + timedelta(seconds=round(0.32 * 6.5 * 86400 / 22))
    assert f'datetime="{runs_out.isoformat().replace("+00:00", "Z")}"' in availability
    assert "data-forecast-alert=" in html and "likely to miss the target" in html
    latency = html.split('<tr data-slo="latency_p95">')[1].split("</tr>")[0]
    assert "data-alerting" not in latency and "lasts the month" in latency  # no calls: nothing to forecast


async def test_an_unknown_service_is_named(console_at, console_db):
    client, _ = console_at
    await sign_in(client, console_db, "viewer")
    r = await client.get("/slo?service=no-such-service&lang=en")
    assert r.status_code == 200 and "No active service no-such-service." in r.text
    assert "<tr data-slo=" not in r.text


async def test_signing_in_is_needed(console_at):
    client, _ = console_at
    r = await client.get(f"/slo?service={SID}")
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=%2Fslo%3Fservice%3D{SID}"
