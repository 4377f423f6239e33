"""The status page as an Atom 1.0 feed (RFC 4287): one entry per public update."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from warroom.core.text import show_bidi
from warroom.status.schemas import PublicIncident, PublicStatus, PublicUpdate

ATOM = "http://www.w3.org/2005/Atom"
STATUS_WORDS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}


def _stamp(value: datetime) -> str:
    """Return an RFC 3339 timestamp in UTC."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append an Atom element (ElementTree escapes the text)."""
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        # Bidi controls shown, as on the status page: a reader would reorder the text unseen.
        element.text = show_bidi(text)
    return element


def entry_id(authority: str, update: PublicUpdate) -> str:
    """Return the update's tag: URI (RFC 4151); it never changes, so readers never re-show it."""
    return f"tag:{authority},{update.created_at:%Y-%m-%d}:warroom/status-update/{update.id}"


def render(status: PublicStatus, *, page_url: str) -> bytes:
    """Return the feed for `status`; `page_url` is the HTML page's public address."""
    # The host of the page: with public_url configured it is fixed, so ids stay stable.
    authority = urlsplit(page_url).hostname or "localhost"
    # A plain xmlns attribute, not ET.register_namespace: that is process-wide state.
    feed = ET.Element("feed", {"xmlns": ATOM})
    _add(feed, "id", f"{page_url}/feed.atom")
    _add(feed, "title", status.page.name)
    _add(feed, "subtitle", status.status.description)
    _add(feed, "updated", _stamp(status.page.updated_at))
    _add(_add(feed, "author"), "name", status.page.name)
    _add(feed, "link", rel="self", type="application/atom+xml", href=f"{page_url}/feed.atom")
    _add(feed, "link", rel="alternate", type="text/html", href=page_url)
    _add(feed, "generator", "warroom")
    entries: list[tuple[PublicIncident, PublicUpdate]] = [
        (incident, update)
        for incident in (*status.incidents, *status.past_incidents)
        for update in incident.incident_updates
    ]
    entries.sort(key=lambda pair: (pair[1].created_at, int(pair[1].id)), reverse=True)
    for incident, update in entries:
        entry = _add(feed, "entry")
        _add(entry, "id", entry_id(authority, update))
        words = STATUS_WORDS[update.status]
        _add(entry, "title", f"{incident.id}: {incident.name} — {words}")
        _add(entry, "updated", _stamp(update.created_at))
        _add(entry, "published", _stamp(update.created_at))
        _add(entry, "link", rel="alternate", type="text/html", href=f"{page_url}#{incident.id}")
        for component in update.affected_components:
            _add(entry, "category", term=component.code, label=component.name)
        lines = [update.body]
        if update.affected_components:
            lines.append("")
            lines += [
                f"{c.name}: {c.new_status.replace('_', ' ')}" for c in update.affected_components
            ]
        _add(entry, "content", "\n".join(lines), type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
