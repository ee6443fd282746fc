"""Every event kind from its real source (incident writes through the API, slo_violations rows,
maintenance windows by time) through the outbox, the fan-out and the worker's jobs to a real loopback
receiver: signed, once per delivery id, with Slack and Teams shapes, retries with back-off, limits."""

import asyncio
import json
from datetime import datetime, timedelta, timezone

from app.notifications import delivery, signing
from app.notifications.models import EVENT_KINDS
from tests.app.notifications.conftest import delivery_rows, subscribe, wait_until
from workers import notify

INCIDENT = {
    "title": 'Face compare <down> & "slow"',
    "severity": "critical",
    "affected_services": ["face-compare"],
    "note": "Timeouts from every region",
}


async def write_every_event(staff, conn) -> None:
    """An incident created, moved, updated and resolved; an SLO violation opened and closed; an SLO
    forecast alert opened and closed; a maintenance window scheduled, another started and ended."""
    reporter = await staff.headers("reporter")
    incident = (await staff.client.post("/api/incidents", json=INCIDENT, headers=reporter)).json()["incident"]
    r = await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=reporter,
        json={"status": "identified", "description": "Bad deploy", "version": 1},
    )
    assert r.status_code == 201, r.text
    r = await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=reporter,
        json={"description": "Rolling back", "version": 2},
    )
    assert r.status_code == 201, r.text
    r = await staff.client.post(
        f"/api/incidents/{incident['id']}/updates",
        headers=reporter,
        json={"status": "resolved", "description": "Rolled back", "version": 3},
    )
    assert r.status_code == 201, r.text
    now = datetime.now(timezone.utc)
    window = {"title": "Failover drill", "affected_services": ["face-compare"]}
    window |= {
        "starts_at": (now + timedelta(days=4)).isoformat(),
        "ends_at": (now + timedelta(days=4, hours=1)).isoformat(),
    }
    r = await staff.client.post("/api/maintenance", json=window, headers=await staff.headers("admin"))
    assert r.status_code == 201, r.text
    violation = await conn.fetchval(
        """INSERT INTO slo_violations (service_id, slo, severity, started_at, threshold, worst_value)
           VALUES ('face-compare', 'availability', 'CRITICAL', $1, 99.9, 97.5) RETURNING id""",
        now - timedelta(minutes=30),
    )
    await conn.execute("UPDATE slo_violations SET ended_at = $2 WHERE id = $1", violation, now - timedelta(minutes=1))
    alert = await conn.fetchval(
        """INSERT INTO slo_forecast_alerts (service_id, slo, period, opened_at, reasons, exhausts_at, miss_probability)
           VALUES ('face-compare', 'availability', '2026-12', $1, '{exhaustion_recent_burn}', $2, 0.75) RETURNING id""",
        now - timedelta(minutes=40),
        now + timedelta(hours=20),
    )
    await conn.execute("UPDATE slo_forecast_alerts SET closed_at = $2 WHERE id = $1", alert, now - timedelta(minutes=2))
    await conn.execute(
        """INSERT INTO maintenance_windows (title, affected_services, starts_at, ends_at, created_at)
           VALUES ('DB upgrade', '{face-compare}', $1, $2, $3)""",
        now - timedelta(minutes=20),
        now - timedelta(minutes=5),
        now - timedelta(days=1),
    )


async def test_every_event_kind_reaches_the_receiver_signed(staff, make_receiver, run_worker):
    receiver = await make_receiver()
    subscription = await subscribe(staff, url=receiver.url)
    ctx = await run_worker()
    await write_every_event(staff, staff.conn)
    await notify.notify_tick(ctx)  # the cron's scan: SLO violations and maintenance windows
    requests = await receiver.wait_for(len(EVENT_KINDS))

    kinds = sorted(r.headers["X-SLAMon-Event"] for r in requests)
    assert kinds == sorted(EVENT_KINDS)
    for r in requests:
        assert signing.verify(subscription["secret"], r.headers["X-SLAMon-Signature"], r.body)
        assert not signing.verify("another secret of some length", r.headers["X-SLAMon-Signature"], r.body)
        body = r.json
        assert body["event"] == r.headers["X-SLAMon-Event"] and body["deliveryId"] == r.delivery_id
        assert body["services"] == ["face-compare"]
    assert len({r.delivery_id for r in requests}) == len(EVENT_KINDS)
    by_kind = {r.json["event"]: r.json["data"] for r in requests}
    assert by_kind["incident.created"]["incident"]["title"] == INCIDENT["title"]
    assert by_kind["incident.created"]["incident"]["updates"][0]["description"] == INCIDENT["note"]
    assert by_kind["incident.status_changed"]["previousStatus"] == "investigating"
    assert by_kind["incident.status_changed"]["incident"]["status"] == "identified"
    assert by_kind["incident.resolved"]["incident"]["updates"][0]["description"] == "Rolled back"
    assert by_kind["slo_violation.opened"]["violation"]["severity"] == "CRITICAL"
    assert by_kind["slo_violation.closed"]["violation"]["durationSeconds"] == 29 * 60
    assert by_kind["maintenance.ended"]["maintenance"]["title"] == "DB upgrade"
    assert by_kind["slo_forecast.opened"]["forecast"]["reasons"] == ["exhaustion_recent_burn"]
    assert by_kind["slo_forecast.opened"]["forecast"]["missProbability"] == 0.75
    assert by_kind["slo_forecast.closed"]["forecast"]["serviceName"] == "Face Compare"
    assert by_kind["incident.updated"]["incident"]["updates"][0]["description"] == "Rolling back"
    assert by_kind["maintenance.scheduled"]["maintenance"]["title"] == "Failover drill"

    rows = await wait_until(lambda: _all_delivered(staff.conn, len(EVENT_KINDS)))
    assert {r["attempts"] for r in rows} == {1}
    # Nothing more is sent: a second scan and fan-out find every event already announced.
    await notify.notify_tick(ctx)
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == len(EVENT_KINDS)


async def _all_delivered(conn, count):
    rows = await delivery_rows(conn)
    return rows if len(rows) == count and all(r["status"] == "delivered" for r in rows) else None


async def test_filters_by_event_kind_and_service(staff, make_receiver, run_worker):
    everything, resolved_only, other_service = [await make_receiver() for _ in range(3)]
    await subscribe(staff, url=everything.url)
    await subscribe(staff, url=resolved_only.url, events=["incident.resolved"])
    await subscribe(staff, url=other_service.url, services=["id-recognition"])
    await run_worker()
    reporter = await staff.headers("reporter")
    incident = (await staff.client.post("/api/incidents", json=INCIDENT, headers=reporter)).json()["incident"]
    await staff.client.put(
        f"/api/incidents/{incident['id']}", headers=reporter, json={"status": "resolved", "note": "done", "version": 1}
    )
    await everything.wait_for(2)
    await resolved_only.wait_for(1)
    await wait_until(lambda: _all_delivered(staff.conn, 3))
    assert [r.headers["X-SLAMon-Event"] for r in resolved_only.requests] == ["incident.resolved"]
    assert other_service.requests == []


async def test_slack_and_teams_payloads(staff, make_receiver, run_worker):
    slack, teams = await make_receiver(), await make_receiver()
    await subscribe(staff, kind="slack", url=slack.url)
    await subscribe(staff, kind="teams", url=teams.url)
    await run_worker()
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    message = (await slack.wait_for(1))[0].json
    assert message["text"] == '[P1] Incident opened: Face compare &lt;down&gt; &amp; "slow"'
    blocks = message["attachments"][0]["blocks"]
    assert message["attachments"][0]["color"].startswith("#")
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[P1] Incident opened: " + INCIDENT["title"]},
    }
    assert blocks[1]["text"] == {"type": "mrkdwn", "text": INCIDENT["note"]}
    assert "*Services:* face-compare" in blocks[2]["text"]["text"]

    card_message = (await teams.wait_for(1))[0].json
    assert card_message["type"] == "message"
    attachment = card_message["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    # Markdown characters are escaped (Adaptive Cards render Markdown; test_messages.py shows the result)
    assert card["body"][0]["text"] == r'\[P1\] Incident opened: Face compare \<down\> & "slow"'
    assert INCIDENT["title"] == 'Face compare <down> & "slow"'
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Priority"] == "P1" and facts["Services"] == "face-compare"


async def test_retries_with_exponential_back_off_until_delivered(staff, make_receiver, run_worker):
    receiver = await make_receiver(statuses=[500, 503])
    subscription = await subscribe(staff, url=receiver.url)
    await run_worker(webhook_backoff_s=0.3)
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    requests = await receiver.wait_for(3)
    assert len({r.delivery_id for r in requests}) == 1  # one delivery, three attempts, one id
    assert requests[1].at - requests[0].at >= 0.3  # back-off 0.3 s, then 0.6 s
    assert requests[2].at - requests[1].at >= 0.6
    rows = await wait_until(lambda: _all_delivered(staff.conn, 1))
    assert rows[0]["attempts"] == 3
    log = (
        await staff.client.get(
            f"/api/subscriptions/{subscription['id']}/deliveries", headers=await staff.headers("admin")
        )
    ).json()
    entry = log["deliveries"][0]
    assert entry["status"] == "delivered" and entry["id"] == requests[0].delivery_id
    assert [(a["attempt"], a["statusCode"], a["outcome"]) for a in entry["log"]] == [
        (1, 500, "failed"),
        (2, 503, "failed"),
        (3, 200, "succeeded"),
    ]
    assert entry["log"][0]["error"] == "HTTP 500" and entry["log"][0]["responseBody"] == "ok"


async def test_gives_up_after_the_attempt_limit(staff, make_receiver, run_worker):
    receiver = await make_receiver(statuses=[500] * 10)
    await subscribe(staff, url=receiver.url)
    await run_worker(webhook_max_attempts=3, webhook_backoff_s=0.1)
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    await receiver.wait_for(3)

    async def failed():
        rows = await delivery_rows(staff.conn)
        return rows if rows and rows[0]["status"] == "failed" else None

    rows = await wait_until(failed)
    assert rows[0]["attempts"] == 3 and rows[0]["last_error"] == "HTTP 500"
    await asyncio.sleep(0.5)
    assert len(receiver.requests) == 3


def test_back_off_doubles_honours_retry_after_and_is_capped(settings):
    s = settings.model_copy(update={"webhook_backoff_s": 30, "webhook_backoff_max_s": 3600})
    assert [delivery.backoff_s(s, n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert delivery.backoff_s(s, 1, retry_after_s=90) == 90
    assert delivery.backoff_s(s, 1, retry_after_s=10**6) == 3600


async def test_a_job_run_twice_sends_once(staff, make_receiver, run_worker):
    receiver = await make_receiver(hold=lambda r: len(receiver.requests) == 1)
    await subscribe(staff, url=receiver.url)
    ctx = await run_worker()
    conn = staff.conn
    # Stop the listener so that only this test runs the jobs.
    await ctx["notify_listener"].close()
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))
    assert await delivery.dispatch(conn) == 1
    assert await delivery.dispatch(conn) == 0  # the fan-out is done once
    [(delivery_id, _)] = await delivery.due(conn)
    first = asyncio.create_task(notify.notify_deliver(ctx, delivery_id))
    await receiver.wait_for(1)
    # The same job again while the first attempt holds the delivery: nothing is sent.
    assert await notify.notify_deliver(ctx, delivery_id) == "skipped"
    assert await delivery.due(conn) == []
    assert len(receiver.requests) == 1
    first.cancel()


async def test_redirects_are_not_followed_and_responses_are_capped(staff, make_receiver, run_worker):
    target = await make_receiver()
    redirecting = await make_receiver(statuses=[302], headers={"Location": target.url})
    big = await make_receiver(body=b"x" * 1_000_000)
    await subscribe(staff, url=redirecting.url)
    await subscribe(staff, url=big.url)
    await run_worker(webhook_max_attempts=1)
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))

    async def settled():
        rows = await delivery_rows(staff.conn)
        return rows if len(rows) == 2 and all(r["status"] != "pending" for r in rows) else None

    rows = {r["subscription_id"]: r for r in await wait_until(settled)}
    assert target.requests == []
    statuses = sorted((r["status"], r["last_error"]) for r in rows.values())
    assert statuses == [("delivered", None), ("failed", "redirects are not followed")]
    body = await staff.conn.fetchval("SELECT max(length(response_body)) FROM notification_attempts")
    assert body == 4096


async def test_a_receiver_that_never_answers_times_out(staff, make_receiver, run_worker):
    receiver = await make_receiver(hold=lambda r: True)
    await subscribe(staff, url=receiver.url)
    await run_worker(webhook_timeout_s=0.5, webhook_max_attempts=1)
    await staff.client.post("/api/incidents", json=INCIDENT, headers=await staff.headers("reporter"))

    async def failed():
        rows = await delivery_rows(staff.conn)
        return rows if rows and rows[0]["status"] == "failed" else None

    rows = await wait_until(failed)
    assert rows[0]["last_error"] == "no answer within 0.5 s"


async def test_test_event_goes_to_one_subscription(staff, make_receiver, run_worker):
    one, other = await make_receiver(), await make_receiver()
    subscription = await subscribe(staff, url=one.url)
    await subscribe(staff, url=other.url)
    await run_worker()
    r = await staff.client.post(f"/api/subscriptions/{subscription['id']}/test", headers=await staff.headers("admin"))
    assert r.status_code == 202, r.text
    [received] = await one.wait_for(1)
    assert received.delivery_id == r.json()["deliveryId"] and received.json["event"] == "test"
    assert json.loads(received.body)["data"]["message"].startswith("Test notification")
    await asyncio.sleep(0.3)
    assert other.requests == []
