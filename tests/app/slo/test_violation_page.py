"""GET /api/slo/violations writes the same bytes since the service returns a ViolationPage record
instead of a hand-built dict (issue 17): decimals as the API always wrote them (99.9, 200, null),
details decoded, an open violation lasting until now, the pagination."""

import json
from datetime import datetime, timedelta, timezone

T0 = datetime(2025, 8, 1, tzinfo=timezone.utc)
NOW = T0 + timedelta(hours=3, minutes=30)

EXPECTED = (
    '{"violations":['
    '{"id":%(second)d,"serviceId":"face-compare","slo":"latency_p95","severity":"CRITICAL",'
    '"startedAt":"2025-08-01T02:00:00Z","endedAt":null,"open":true,"durationSeconds":5400,'
    '"duration":"1h 30m","threshold":200,"worstValue":null,"details":{}},'
    '{"id":%(first)d,"serviceId":"face-compare","slo":"availability","severity":"WARNING",'
    '"startedAt":"2025-08-01T00:00:00Z","endedAt":"2025-08-01T01:00:00Z","open":false,"durationSeconds":3600,'
    '"duration":"1h 0m","threshold":99.9,"worstValue":97.25,'
    '"details":{"measure":"availability %% per 5 minutes","warningMinutes":60}}],'
    '"pagination":{"page":1,"limit":50,"total":2,"totalPages":1,"hasNext":false}}'
)


async def test_the_violations_page_bytes(conn, make_client):
    rows = [
        (
            "availability",
            "WARNING",
            T0,
            T0 + timedelta(hours=1),
            "99.9",
            "97.25",
            {"measure": "availability % per 5 minutes", "warningMinutes": 60},
        ),
        ("latency_p95", "CRITICAL", T0 + timedelta(hours=2), None, "200", None, {}),
    ]
    ids = []
    for slo, severity, start, end, threshold, worst, details in rows:
        ids.append(
            await conn.fetchval(
                "INSERT INTO slo_violations (service_id, slo, severity, started_at, ended_at, threshold, worst_value, "
                "details) VALUES ('face-compare', $1, $2, $3, $4, $5::numeric, $6::numeric, $7::jsonb) RETURNING id",
                slo,
                severity,
                start,
                end,
                threshold,
                worst,
                json.dumps(details),
            )
        )
    client = await make_client(now=NOW)
    r = await client.get("/api/slo/violations", params={"serviceId": "face-compare"})
    assert r.status_code == 200, r.text
    assert r.text == EXPECTED % {"first": ids[0], "second": ids[1]}
