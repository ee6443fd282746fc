"""/oncall as served: the page renders the on-call records as the API writes them (issue 17), so its
instants are the API's text ("Z", fractional seconds kept) in the `<time>` elements."""

from __future__ import annotations

from tests.pages.console.conftest import api_token, sign_in

SCHEDULE = {
    "id": "night",
    "name": "Night shift",
    "time_zone": "Asia/Seoul",
    "rotation": "daily",
    "handoff_time": "21:00",
    "start_date": "2026-01-05",
    "participants": ["ana", "ben"],
}


async def test_the_page_shows_overrides_as_the_api_writes_them(console_client, console_db):
    await console_db.execute("TRUNCATE oncall_schedules CASCADE")
    client = console_client()
    headers = await api_token(client, console_db, "admin", "ada")
    for name in SCHEDULE["participants"]:
        await api_token(client, console_db, "reporter", name)
    assert (await client.post("/api/oncall/schedules", json=SCHEDULE, headers=headers)).status_code == 201
    override = {"username": "ben", "starts_at": "2099-01-01T09:00:00+09:00", "ends_at": "2099-01-02T00:00:00.25Z"}
    r = await client.post("/api/oncall/schedules/night/overrides", json=override, headers=headers)
    assert r.status_code == 201, r.text
    answer = r.json()["override"]
    assert (answer["startsAt"], answer["endsAt"]) == ("2099-01-01T00:00:00Z", "2099-01-02T00:00:00.250000Z")

    await sign_in(client, console_db, "admin", "ada")
    html = (await client.get("/oncall")).text
    assert '<time datetime="2099-01-01T00:00:00Z">2099-01-01 00:00 UTC</time>' in html
    assert '<time datetime="2099-01-02T00:00:00.250000Z">2099-01-02 00:00 UTC</time>' in html
    assert 'data-schedule="night"' in html and "ana → ben" in html
    await console_db.execute("TRUNCATE oncall_schedules CASCADE")
