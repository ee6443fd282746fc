"""The public endpoint gives nothing away and cannot be used to flood anyone: the same answer for a
new, pending, confirmed or unsubscribed receiver; requests limited per client IP (429); messages
limited per receiver (the same answer, nothing more sent); addresses never shown; bad input a 422
naming the field."""

from datetime import datetime, timedelta, timezone

from app.subscribers import service
from tests.app.subscribers.conftest import Public

EMAIL = "someone@example.com"


async def owner_messages(conn) -> list[str]:
    rows = await conn.fetch(
        "SELECT e.kind FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id ORDER BY e.id"
    )
    return [r["kind"] for r in rows]


async def test_the_answer_does_not_say_whether_an_address_is_subscribed(public: Public):
    new = await public.subscribe(kind="email", email=EMAIL)
    pending = await public.subscribe(kind="email", email=EMAIL.upper())  # one receiver, whatever its case
    await public.confirm_directly(kind="email", email="confirmed@example.com")
    confirmed = await public.subscribe(kind="email", email="confirmed@example.com")
    answers = [
        (r.status_code, r.content, sorted(set(r.headers) - {"date", "x-request-id"})) for r in (new, pending, confirmed)
    ]
    assert answers[0] == answers[1] == answers[2] and answers[0][0] == 202
    # What differs is what the owner receives: a confirmation, or (confirmed) a reminder with its links.
    assert await owner_messages(public.conn) == [
        "subscription.confirm",  # new
        "subscription.confirm",  # pending: a new confirmation replaces the first
        "subscription.confirm",  # confirm_directly's own request
        "subscription.reminder",  # confirmed
    ]
    assert await public.conn.fetchval("SELECT count(*) FROM subscriptions WHERE public") == 2


async def test_requests_are_limited_per_ip(staff, make_app):
    _, client = make_app(subscribe_ip_per_hour=2)
    body = {"kind": "email", "email": EMAIL}
    for _ in range(2):
        assert (await client("198.51.100.1").post("/api/public/subscriptions", json=body)).status_code == 202
    refused = await client("198.51.100.1").post("/api/public/subscriptions", json=body | {"email": "other@example.com"})
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert (await client("198.51.100.2").post("/api/public/subscriptions", json=body)).status_code == 202


async def test_messages_are_limited_per_receiver_with_the_same_answer(public: Public):
    answers = {(await public.subscribe(ip=f"198.51.100.{n}", kind="email", email=EMAIL)).content for n in range(5)}
    assert len(answers) == 1
    assert await owner_messages(public.conn) == ["subscription.confirm"] * 3  # SLAMON_SUBSCRIBE_RECEIVER_PER_HOUR
    assert await public.conn.fetchval("SELECT count(*) FROM public_rate_limits WHERE key LIKE '%example.com%'") == 0


async def test_addresses_are_never_shown(public: Public):
    await public.confirm_directly(kind="email", email="alice.private@example.org")
    row = await public.conn.fetchrow("SELECT id, link_nonce AS confirm_nonce FROM subscriptions WHERE public")
    r = await public.client().get("/api/public/subscriptions/manage", params={"token": Public.token_for(row, "manage")})
    assert r.status_code == 200 and r.json()["subscription"]["receiver"] == "a…@example.org"
    assert "alice.private" not in r.text
    assert (await public.client().get("/api/public/subscriptions")).status_code == 405  # no listing
    assert (await public.client().get("/api/subscriptions")).status_code == 401  # the admin list needs a token
    for token in ("not-a-token", (await public.staff.login("admin"))["access_token"]):  # nor an access token
        r = await public.client().get("/api/public/subscriptions/manage", params={"token": token})
        assert r.status_code == 410


async def test_bad_input_is_a_422_naming_the_field(staff, make_app):
    _, client = make_app()  # loopback receivers not allowed: the default
    cases = [
        ({"kind": "email"}, "body"),
        ({"kind": "email", "email": "no-at-sign"}, "email"),
        ({"kind": "email", "email": "a@example.com", "services": ["no-such-service"]}, "services"),
        ({"kind": "webhook", "url": "http://127.0.0.1:9/hook"}, "url"),
        ({"kind": "pagerduty", "url": "https://example.com/"}, "kind"),
        ({"kind": "email", "email": "a@example.com", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = await client().post("/api/public/subscriptions", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.text, (body, r.text)
    assert await staff.conn.fetchval("SELECT count(*) FROM subscriptions") == 0


async def test_managing_services_and_unsubscribing_from_the_manage_link(public: Public):
    subscription_id = await public.confirm_directly(kind="email", email=EMAIL)
    row = await public.conn.fetchrow(
        "SELECT id, link_nonce AS confirm_nonce FROM subscriptions WHERE id = $1", subscription_id
    )
    token = Public.token_for(row, "manage")
    r = await public.client().put(
        "/api/public/subscriptions/manage", params={"token": token}, json={"services": ["face-compare"]}
    )
    assert r.status_code == 200 and r.json()["subscription"]["services"] == ["face-compare"]
    r = await public.client().put(
        "/api/public/subscriptions/manage", params={"token": token}, json={"services": ["nope"]}
    )
    assert r.status_code == 422
    unsubscribe_token = Public.token_for(row, "unsubscribe")
    # A manage token is not an unsubscribe token, nor the reverse.
    assert (
        await public.client().post("/api/public/subscriptions/unsubscribe", params={"token": token})
    ).status_code == 410
    r = await public.client().post("/api/public/subscriptions/manage/unsubscribe", params={"token": token})
    assert r.status_code == 200
    assert not await public.conn.fetchval("SELECT active FROM subscriptions WHERE id = $1", subscription_id)
    r = await public.client().post("/api/public/subscriptions/unsubscribe", params={"token": unsubscribe_token})
    assert r.status_code == 200  # a second click answers the same


async def test_addresses_ignore_case_and_urls_do_not(public: Public):
    await public.subscribe(kind="email", email="Case@Example.com")
    await public.subscribe(kind="email", email="case@example.com")
    await public.subscribe(kind="webhook", url="http://127.0.0.1:9/hooks/AbC")
    await public.subscribe(kind="webhook", url="http://127.0.0.1:9/hooks/abc")  # a token's case matters
    rows = await public.conn.fetch("SELECT kind, email, url FROM subscriptions WHERE public ORDER BY id")
    assert [(r["kind"], r["email"] or r["url"]) for r in rows] == [
        ("email", "Case@Example.com"),
        ("webhook", "http://127.0.0.1:9/hooks/AbC"),
        ("webhook", "http://127.0.0.1:9/hooks/abc"),
    ]


async def test_counters_of_past_windows_are_dropped(public: Public):
    await public.conn.execute(
        "INSERT INTO public_rate_limits (key, window_start, hits) VALUES ('ip:192.0.2.1', now() - interval '2 h', 9)"
    )
    await public.subscribe(kind="email", email=EMAIL)
    keys = {r["key"] for r in await public.conn.fetch("SELECT key FROM public_rate_limits")}
    assert "ip:192.0.2.1" not in keys and "ip:198.51.100.7" in keys


async def test_receivers_nobody_confirmed_are_forgotten(public: Public, settings):
    await public.subscribe(kind="email", email="never@example.com")
    kept = await public.confirm_directly(kind="email", email="kept@example.com")
    later = datetime.now(timezone.utc) + timedelta(hours=settings.subscribe_confirm_hours + 23)
    assert await service.forget_unconfirmed(public.conn, settings, later) == 0  # its link expired < a day ago
    later += timedelta(hours=2)
    assert await service.forget_unconfirmed(public.conn, settings, later) == 1
    assert [r["id"] for r in await public.conn.fetch("SELECT id FROM subscriptions")] == [kept]
