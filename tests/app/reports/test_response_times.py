"""The monthly report's time to acknowledge and to resolve per priority, against pandas from the rows:
the first acknowledgement in the escalation timeline counts (a resumption and a second one do not move
it), unacknowledged and unresolved incidents are counted apart, and another service's incidents and
another month's are left out. The HTML report shows the table."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from app.reports import service as reports
from tests.app.reports.test_figures import AUGUST
from tests.app.sla.test_api import INCIDENTS, MONTH_END, MONTH_START, NOW, SID, ZONE, august  # noqa: F401


async def test_mtta_and_mttr_per_priority(conn, august, make_client):  # noqa: F811
    rows = await conn.fetch("SELECT id, priority, created_at, resolved_at FROM incidents ORDER BY created_at")
    by_created = {r["created_at"]: r["id"] for r in rows}
    p1 = by_created[INCIDENTS[0][1]]
    p2 = by_created[INCIDENTS[1][1]]
    acks = [
        (p1, INCIDENTS[0][1] + timedelta(minutes=7, seconds=30, microseconds=250_000)),
        (p1, INCIDENTS[0][1] + timedelta(minutes=50)),  # acknowledged again after a resumption
        (p2, INCIDENTS[1][1] + timedelta(minutes=3, seconds=1)),
    ]
    for incident_id, at in acks:
        await conn.execute(
            "INSERT INTO escalation_log (incident_id, at, action, actor) VALUES ($1, $2, 'acknowledged', 'kim')",
            incident_id,
            at,
        )
    written = await reports.close_month(conn, AUGUST, NOW, ZONE)
    assert SID in written
    client = await make_client(now=NOW, timezone=ZONE)
    doc = (await client.get(f"/api/sla/reports/{SID}/2025-08.json")).json()

    frame = pd.DataFrame([dict(r) for r in rows])
    frame = frame[(frame["created_at"] >= MONTH_START) & (frame["created_at"] < MONTH_END)]
    first_ack = pd.DataFrame(acks, columns=["id", "at"]).groupby("id")["at"].min()
    frame["acknowledged_at"] = frame["id"].map(first_ack)
    expected = {}
    for priority in ("P1", "P2", "P3"):
        mine = frame[frame["priority"] == priority]
        to_ack = (mine["acknowledged_at"] - mine["created_at"]).dropna().dt.total_seconds()
        to_resolve = (mine["resolved_at"] - mine["created_at"]).dropna().dt.total_seconds()
        expected[priority] = (
            len(mine),
            len(to_ack),
            round(to_ack.mean(), 3) if len(to_ack) else None,
            len(to_resolve),
            round(to_resolve.mean(), 3) if len(to_resolve) else None,
        )
    got = {
        p: (
            v["incidents"],
            v["acknowledged"],
            v["meanTimeToAcknowledgeSeconds"],
            v["resolved"],
            v["meanTimeToResolveSeconds"],
        )
        for p, v in doc["incidents"]["byPriority"].items()
    }
    assert got == expected
    assert expected["P1"] == (1, 1, 450.25, 1, 8100)  # by hand: 7 min 30.25 s; 2 h 15 min
    assert doc["incidents"]["byPriority"]["P1"]["meanTimeToAcknowledge"] == "7m"
    assert doc["incidents"]["byPriority"]["P2"]["meanTimeToResolve"] == "1d 1h 30m"
    assert doc["incidents"]["byPriority"]["P3"]["acknowledged"] == 0
    assert doc["incidents"]["byPriority"]["P3"]["meanTimeToAcknowledge"] is None

    html = (await client.get(f"/api/sla/reports/{SID}/2025-08.html")).text
    assert "data-response-times" in html and "1d 1h 30m" in html
