"""Webhook, Slack and Teams receivers subscribed from the status page: verified by a challenge delivery
(a real HTTP receiver on loopback). A webhook that answers with the challenge is confirmed by that
answer; a receiver that cannot answer (Slack, Teams) shows the confirmation link to the people of its
channel. Nothing but the challenge goes to a receiver before it is confirmed."""

import json

from aiohttp import web

from tests.app.notifications.conftest import wait_until
from tests.app.notifications.receivers import Receiver
from tests.app.subscribers.conftest import link_token


class Echoing(Receiver):
    """A webhook receiver that answers a challenge delivery with its challenge (docs/api.md)."""

    async def _handle(self, request: web.Request) -> web.Response:
        await super()._handle(request)
        body = json.loads(self.requests[-1].body)
        if body["event"] == "subscription.confirm":
            return web.json_response({"challenge": body["data"]["challenge"]})
        return web.Response(text="ok")


async def status_of(conn) -> str:
    row = await conn.fetchrow("SELECT active, confirm_nonce FROM subscriptions WHERE public")
    return "confirmed" if row["active"] else "pending"


async def test_a_webhook_that_echoes_the_challenge_is_confirmed(public, run_worker):
    receiver = await Echoing().start()
    try:
        await run_worker()
        r = await public.subscribe(kind="webhook", url=receiver.url, services=["face-compare"])
        assert r.status_code == 202
        [challenge] = await receiver.wait_for(1)
        body = challenge.json
        assert body["event"] == "subscription.confirm" and set(body["data"]) >= {"challenge", "confirmUrl"}
        assert "X-SLAMon-Signature" not in challenge.headers  # no secret: the public never sees one

        async def confirmed():
            return await status_of(public.conn) == "confirmed"

        await wait_until(confirmed)
        incident = await public.incident()
        [_, news] = await receiver.wait_for(2)
        assert news.json["event"] == "incident.created" and news.json["data"]["incident"]["id"] == incident["id"]
        assert set(news.json["links"]) == {"manage", "unsubscribe"}
    finally:
        await receiver.stop()


async def test_a_webhook_that_does_not_answer_stays_pending_until_the_link(public, make_receiver, run_worker):
    receiver = await make_receiver()  # answers "ok", not the challenge
    await run_worker()
    await public.subscribe(kind="webhook", url=receiver.url)
    [challenge] = await receiver.wait_for(1)
    await public.incident()
    await public.dispatched()
    assert await status_of(public.conn) == "pending" and len(receiver.requests) == 1
    token = link_token(challenge.json["data"]["confirmUrl"], "/subscriptions/confirm")
    r = await public.client().post("/api/public/subscriptions/confirm", json={"token": token})
    assert r.status_code == 200 and r.json()["subscription"]["receiver"] == "http://127.0.0.1/…"
    await public.incident(title="after confirming")
    [_, news] = await receiver.wait_for(2)
    assert news.json["data"]["incident"]["title"] == "after confirming"


async def test_slack_shows_the_confirmation_link_and_every_message_an_unsubscribe_link(
    public, make_receiver, run_worker
):
    receiver = await make_receiver()
    await run_worker()
    await public.subscribe(kind="slack", url=receiver.url, services=["face-compare"])
    [challenge] = await receiver.wait_for(1)
    blocks = json.dumps(challenge.json, ensure_ascii=False)
    token = link_token(blocks.replace("\\n", " ").replace('"', " "), "/subscriptions/confirm")
    r = await public.client().post("/api/public/subscriptions/confirm", json={"token": token})
    assert r.status_code == 200
    await public.incident()
    [_, news] = await receiver.wait_for(2)
    text = json.dumps(news.json, ensure_ascii=False).replace('"', " ")
    unsubscribe = link_token(text, "/subscriptions/unsubscribe")
    page = await public.client().get(f"/subscriptions/unsubscribe?token={unsubscribe}")
    assert page.status_code == 200
    r = await public.client().post("/api/public/subscriptions/unsubscribe", params={"token": unsubscribe})
    assert r.status_code == 200
    await public.incident(title="after unsubscribing")
    await public.dispatched()
    assert len(receiver.requests) == 2
