"""Public RSS 2.0 and Atom 1.0 feeds: valid XML (parsed strictly, and by feedparser), every text
escaped, incidents with their latest update and maintenance windows, newest activity first."""

from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET

import feedparser

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=timezone.utc)
NASTY = "<script>alert('x')</script> & \"quotes\" ]]> \x01bell"
ATOM = "{http://www.w3.org/2005/Atom}"


async def _history(conn):
    old = await conn.fetchval(
        """INSERT INTO incidents (title, status, severity, priority, affected_services, created_at, updated_at,
                                  resolved_at) VALUES ('Old outage', 'resolved', 'high', 'P2', '{face-compare}',
                                  $1, $2, $2) RETURNING id""",
        NOW - timedelta(days=3),
        NOW - timedelta(days=2),
    )
    await conn.execute(
        """INSERT INTO incident_updates (incident_id, status, description, created_at)
                          VALUES ($1, 'investigating', 'first look', $2), ($1, 'resolved', 'all fixed', $3)""",
        old,
        NOW - timedelta(days=3),
        NOW - timedelta(days=2),
    )
    new = await conn.fetchval(
        """INSERT INTO incidents (title, description, severity, priority, created_at, updated_at)
           VALUES ($1, $1, 'critical', 'P1', $2, $2) RETURNING id""",
        NASTY,
        NOW - timedelta(hours=1),
    )
    await conn.execute(
        """INSERT INTO maintenance_windows (title, description, affected_services, starts_at, ends_at,
                                                          created_at)
                          VALUES ('DB upgrade', 'Read-only for 10 minutes', '{id-recognition}', $1, $2, $3)""",
        NOW - timedelta(days=1),
        NOW - timedelta(days=1) + timedelta(hours=1),
        NOW - timedelta(days=5),
    )
    return old, new


async def test_rss(conn, make_client):
    old, new = await _history(conn)
    client = await make_client(now=NOW, public_base_url="https://status.example.com/slamon")
    r = await client.get("/feeds/incidents.rss", headers={"Host": "evil.example"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/rss+xml; charset=utf-8"
    channel = ET.fromstring(r.content).find("channel")
    items = channel.findall("item")
    expected_title = NASTY.replace("\x01", "")
    assert [i.findtext("title") for i in items] == [
        f"[Investigating] {expected_title}",
        "[Maintenance completed] DB upgrade",
        "[Resolved] Old outage",
    ]
    assert [i.findtext("guid") for i in items][0] == f"incident:{new}"
    assert "all fixed" in items[2].findtext("description") and "first look" not in items[2].findtext("description")
    assert "&lt;script&gt;" in items[0].findtext("description")  # HTML of the body escapes the text
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0 and parsed.version == "rss20"
    assert [e.title for e in parsed.entries][0] == f"[Investigating] {expected_title}"
    # links come from SLAMON_PUBLIC_BASE_URL, never from the Host header
    assert parsed.entries[0].link == f"https://status.example.com/slamon/api/incidents/{new}"
    assert b"evil.example" not in r.content


async def test_atom(conn, make_client):
    old, new = await _history(conn)
    client = await make_client(now=NOW, public_base_url="https://status.example.com/")
    r = await client.get("/feeds/incidents.atom", headers={"Host": "evil.example"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(r.content)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3
    assert feed.findtext(f"{ATOM}updated") == (NOW - timedelta(hours=1)).isoformat()
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0 and parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == [
        f"[Investigating] {NASTY.replace(chr(1), '')}",
        "[Maintenance completed] DB upgrade",
        "[Resolved] Old outage",
    ]
    assert parsed.entries[2].published_parsed < parsed.entries[2].updated_parsed
    assert "all fixed" in parsed.entries[2].content[0].value
    assert parsed.feed.links[0].href == "https://status.example.com/feeds/incidents.atom"
    assert b"evil.example" not in r.content


async def test_empty_feeds_are_valid(conn, make_client):
    client = await make_client(now=NOW)
    for path, version in (("/feeds/incidents.rss", "rss20"), ("/feeds/incidents.atom", "atom10")):
        r = await client.get(path)
        parsed = feedparser.parse(r.content)
        assert r.status_code == 200 and parsed.bozo == 0 and parsed.version == version and parsed.entries == []


async def test_a_service_feed_holds_only_that_service(conn, make_client):
    old, new = await _history(conn)  # the old outage: face-compare; the window: id-recognition; `new`: none
    client = await make_client(now=NOW, public_base_url="https://status.example.com/")
    r = await client.get("/feeds/services/face-compare/incidents.rss")
    assert r.status_code == 200 and r.headers["content-type"] == "application/rss+xml; charset=utf-8"
    channel = ET.fromstring(r.content).find("channel")
    assert [i.findtext("guid") for i in channel.findall("item")] == [f"incident:{old}"]
    assert channel.findtext("title") == "SLA Monitor: Face Compare: incidents and maintenance"
    r = await client.get("/feeds/services/id-recognition/incidents.atom")
    feed = feedparser.parse(r.content)
    assert not feed.bozo and [e.title for e in feed.entries] == ["[Maintenance completed] DB upgrade"]
    assert feed.feed.links[0].href == "https://status.example.com/feeds/services/id-recognition/incidents.atom"
    r = await client.get("/feeds/services/no-such-service/incidents.rss")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert (await client.get("/feeds/services/NOT..valid/incidents.rss")).status_code == 422
    assert (await client.get("/feeds/services/face-compare/incidents.json")).status_code == 422
