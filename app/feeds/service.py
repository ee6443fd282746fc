"""Public feeds of incidents and maintenance: RSS 2.0 and Atom 1.0, newest activity first.

Written with ElementTree, which escapes every text and attribute; item bodies are HTML (escaped
once by us, once more by the XML writer), as feed readers expect. Characters XML 1.0 cannot carry
at all (control characters) are dropped."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree as ET

import asyncpg

from app.feeds import queries

FEED_ITEMS = 50
FEED_TITLE = "SLA Monitor: incidents and maintenance"
FEED_DESCRIPTION = "Incidents (with their latest update) and maintenance windows of the monitored services."
ATOM_NS = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Item:
    key: str  # stable id: incident:<id> or maintenance:<id>
    title: str
    link: str
    published: datetime
    updated: datetime
    category: str
    body_html: str


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _para(text: str) -> str:
    return "<p>" + html.escape(text).replace("\n", "<br/>") + "</p>" if text else ""


def _incident_item(row: asyncpg.Record, base_url: str) -> Item:
    facts = (
        f"Status: {row['status']} · Severity: {row['severity']} · Priority: {row['priority']} · "
        f"Services: {', '.join(row['affected_services']) or '-'}"
    )
    body = _para(facts)
    if row["update_description"]:
        body += _para(f"Latest update ({row['update_status']}, {row['update_at'].isoformat()}):")
        body += _para(row["update_description"])
    elif row["description"]:
        body += _para(row["description"])
    return Item(
        f"incident:{row['id']}",
        f"[{row['status'].capitalize()}] {row['title']}",
        f"{base_url}api/incidents/{row['id']}",
        row["created_at"],
        row["activity_at"],
        "incident",
        body,
    )


def _maintenance_item(row: asyncpg.Record, base_url: str, now: datetime) -> Item:
    phase = "completed" if row["ends_at"] <= now else "in progress" if row["starts_at"] <= now else "scheduled"
    body = _para(
        f"{row['starts_at'].isoformat()} – {row['ends_at'].isoformat()} · "
        f"Services: {', '.join(row['affected_services'])}"
    ) + _para(row["description"])
    return Item(
        f"maintenance:{row['id']}",
        f"[Maintenance {phase}] {row['title']}",
        f"{base_url}api/maintenance/{row['id']}",
        row["created_at"],
        row["activity_at"],
        "maintenance",
        body,
    )


async def items(
    conn: asyncpg.Connection, base_url: str, now: datetime, limit: int = FEED_ITEMS, service_id: str | None = None
) -> list[Item]:
    """Incidents and maintenance windows (of one service, when given), newest activity first."""
    found = [_incident_item(r, base_url) for r in await conn.fetch(queries.LATEST_INCIDENTS, limit, service_id)]
    rows = await conn.fetch(queries.LATEST_MAINTENANCE, now, limit, service_id)
    found += [_maintenance_item(r, base_url, now) for r in rows]
    found.sort(key=lambda item: (item.updated, item.key), reverse=True)
    return found[:limit]


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = _clean(text)
    return element


def _xml(root: ET.Element) -> bytes:
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)  # typeshed: Any for "utf-8"
    return document


@dataclass(frozen=True)
class About:
    """What a feed is about: every service, or one."""

    title: str = FEED_TITLE
    description: str = FEED_DESCRIPTION

    @classmethod
    def service(cls, name: str) -> About:
        return cls(f"SLA Monitor: {name}: incidents and maintenance", f"Incidents and maintenance windows of {name}.")


def rss(entries: list[Item], base_url: str, self_url: str, now: datetime, about: About = About()) -> bytes:
    root = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = _sub(root, "channel")
    _sub(channel, "title", about.title)
    _sub(channel, "link", base_url)
    _sub(channel, "description", about.description)
    _sub(channel, "lastBuildDate", format_datetime(entries[0].updated if entries else now))
    _sub(channel, "atom:link", href=self_url, rel="self", type="application/rss+xml")
    for entry in entries:
        item = _sub(channel, "item")
        _sub(item, "title", entry.title)
        _sub(item, "link", entry.link)
        _sub(item, "guid", entry.key, isPermaLink="false")
        _sub(item, "pubDate", format_datetime(entry.updated))
        _sub(item, "category", entry.category)
        _sub(item, "description", entry.body_html)
    return _xml(root)


def atom(entries: list[Item], base_url: str, self_url: str, now: datetime, about: About = About()) -> bytes:
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(root, "id", self_url)
    _sub(root, "title", about.title)
    _sub(root, "subtitle", about.description)
    _sub(root, "updated", (entries[0].updated if entries else now).isoformat())
    _sub(root, "link", href=self_url, rel="self", type="application/atom+xml")
    _sub(root, "link", href=base_url, rel="alternate")
    _sub(_sub(root, "author"), "name", "SLA Monitor")
    for entry in entries:
        element = _sub(root, "entry")
        _sub(element, "id", f"{base_url}#{entry.key}")
        _sub(element, "title", entry.title, type="text")
        _sub(element, "link", href=entry.link, rel="alternate")
        _sub(element, "published", entry.published.isoformat())
        _sub(element, "updated", entry.updated.isoformat())
        _sub(element, "category", term=entry.category)
        _sub(element, "content", entry.body_html, type="html")
    return _xml(root)
