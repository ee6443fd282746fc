"""The maintenance notice rule (docs/sla-math.md): a window leaves the SLA figures only when it was
announced at least SLAMON_MAINTENANCE_NOTICE_HOURS (72 h) before it starts; a later one is shown but
counts as ordinary time, and the monthly report lists both with the decision and its reason."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app import deps
from app.ingest.service import CheckRow, write_checks
from app.periods import month
from app.reports import service as reports

UTC = timezone.utc
SID = "face-compare"  # interval 60 s
NOW = datetime(2025, 9, 20, tzinfo=UTC)
ANNOUNCED = (datetime(2025, 8, 10, 1, tzinfo=UTC), datetime(2025, 8, 10, 3, tzinfo=UTC))  # scheduled 9 days ahead
LATE = (datetime(2025, 8, 12, 0, tzinfo=UTC), datetime(2025, 8, 12, 2, tzinfo=UTC))  # scheduled 1 h ahead


def window(title: str, span: tuple[datetime, datetime]) -> dict:
    return {
        "title": title,
        "affected_services": [SID],
        "starts_at": span[0].isoformat(),
        "ends_at": span[1].isoformat(),
    }


async def schedule(staff, title: str, span, at: datetime) -> dict:
    staff.app.dependency_overrides[deps.clock] = lambda: at
    r = await staff.client.post("/api/maintenance", json=window(title, span), headers=await staff.headers("admin"))
    assert r.status_code == 201, r.text
    return r.json()["window"]


async def test_a_window_is_excluded_only_when_announced_in_time(staff):
    early = await schedule(staff, "announced", ANNOUNCED, ANNOUNCED[0] - timedelta(days=9))
    late = await schedule(staff, "late", LATE, LATE[0] - timedelta(hours=1))
    assert early["excludedFromSla"] is True and early["announcedAt"].startswith("2025-08-01T01:00")
    assert "216.0 h before" in early["exclusionReason"]
    assert late["excludedFromSla"] is False and "only 1.0 h before" in late["exclusionReason"]

    # Moving the announced window to start sooner than the notice after its announcement: counted again.
    admin = await staff.headers("admin")
    moved = window("announced", (datetime(2025, 8, 3, tzinfo=UTC), datetime(2025, 8, 3, 1, tzinfo=UTC)))
    r = await staff.client.put(f"/api/maintenance/{early['id']}", json=moved, headers=admin)
    assert r.json()["window"]["excludedFromSla"] is False
    r = await staff.client.put(f"/api/maintenance/{early['id']}", json=window("announced", ANNOUNCED), headers=admin)
    assert r.json()["window"]["excludedFromSla"] is True


async def test_figures_count_a_late_window_as_ordinary_time(staff):
    await schedule(staff, "announced", ANNOUNCED, ANNOUNCED[0] - timedelta(days=9))
    await schedule(staff, "late", LATE, LATE[0] - timedelta(hours=1))
    start = datetime(2025, 8, 1, tzinfo=UTC)
    failed = {ANNOUNCED[0] + timedelta(minutes=m) for m in range(30)} | {
        LATE[0] + timedelta(minutes=m) for m in range(20)
    }
    rows = [
        CheckRow(
            ts,
            SID,
            "seoul",
            ts not in failed,
            200 if ts not in failed else 503,
            300,
            None if ts not in failed else "http_error",
        )
        for ts in (start + timedelta(minutes=m) for m in range(31 * 1440))
    ]
    await write_checks(staff.conn, rows, now=NOW)
    staff.app.dependency_overrides[deps.clock] = lambda: NOW

    metrics = (await staff.client.get(f"/api/sla/availability/{SID}?period=monthly&year=2025&month=8")).json()[
        "metrics"
    ]
    total = 31 * 1440 - 120  # the announced window's two hours leave every figure
    assert metrics["maintenanceChecks"] == 120
    assert (metrics["totalChecks"], metrics["failedChecks"]) == (total, 20)  # the late window's failures count
    assert metrics["expectedChecks"] == total
    assert metrics["uptimePercentage"] == float((total - 20) * 10000 // total) / 100
    assert metrics["downtimeMinutes"] == 20

    days = (await staff.client.get(f"/api/uptime/{SID}?months=1&startDate=2025-08-01")).json()["months"][0]["days"]
    assert days[9] == "o" and days[11] == "po"  # 20 failed minutes on the 12th: below 99.95 %

    await reports.close_month(staff.conn, month(2025, 8, ZoneInfo("UTC")), NOW, "UTC")
    report = (await staff.client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()
    assert [(m["title"], m["excludedFromSla"]) for m in report["maintenance"]] == [("announced", True), ("late", False)]
    assert all(m["reason"] and m["announcedAt"] for m in report["maintenance"])
    assert report["availability"]["failedChecks"] == 20
    html = (await staff.client.get(f"/api/sla/reports/{SID}/2025-08.html?lang=en")).text
    assert "Excluded from SLA figures" in html and "only 1.0 h before it starts" in html
