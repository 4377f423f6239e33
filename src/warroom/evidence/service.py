"""Evidence rows: add a version, list, find, and append to an item's chain of custody."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.audit import service as audit
from warroom.core.errors import Invalid, NotFound
from warroom.evidence.models import ACTIONS, CustodyEntry, EvidenceItem
from warroom.incidents import timeline
from warroom.incidents.models import Incident

NAME_MAX = 255
NOTE_MAX = 10_000


def check_name(name: str) -> str:
    """Return an item's name as kept (its last path part, trimmed), or raise Invalid."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base or base in (".", ".."):
        raise Invalid("the evidence needs a file name", {"field": "name"})
    if len(base) > NAME_MAX:
        raise Invalid(f"the name is over {NAME_MAX} characters", {"field": "name"})
    if any(ord(c) < 32 or ord(c) == 127 for c in base):
        raise Invalid("the name must not hold control characters", {"field": "name"})
    return base


def original(filename: str) -> str:
    """Return an upload's own file name as kept beside the item's: its last part, or ""."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "".join(c for c in base if ord(c) >= 32 and ord(c) != 127)[:NAME_MAX]


def check_note(note: str) -> str:
    """Return a note as kept, or raise Invalid when it is too long or holds a NUL."""
    if len(note) > NOTE_MAX:
        raise Invalid(f"the note is over {NOTE_MAX} characters", {"field": "note"})
    if "\x00" in note:
        raise Invalid("the note must not contain NUL characters", {"field": "note"})
    return note.strip()


def add(
    session: Session,
    *,
    incident: Incident,
    name: str,
    original_name: str,
    sha256: str,
    size: int,
    media_type: str,
    stored_key: str,
    actor: str,
    source: str,
    at: datetime,
    timezone: str,
    note: str,
) -> EvidenceItem:
    """Add the next version of `name` to a locked incident, collected, on the timeline."""
    newest = session.scalar(
        select(func.max(EvidenceItem.version)).where(
            EvidenceItem.incident_id == incident.id, EvidenceItem.name == name
        )
    )
    item = EvidenceItem(
        incident_id=incident.id,
        name=name,
        original_name=original_name,
        version=(newest or 0) + 1,
        sha256=sha256,
        size=size,
        media_type=media_type,
        stored_key=stored_key,
        collected_by=actor,
        collected_at=at,
        note=note,
    )
    session.add(item)
    session.flush()
    record(
        session,
        item=item,
        who=actor,
        action="collected",
        at=at,
        timezone=timezone,
        location=f"evidence/{stored_key}",
        note=note,
    )
    shown = f"{name} (version {item.version})" if item.version > 1 else name
    timeline.record(
        session,
        incident=incident,
        kind="evidence_added",
        text=f"Evidence added: {shown}, {size} bytes, SHA-256 {sha256[:12]}…",
        at=at,
        actor=actor,
        source=source,
        data={"evidence_id": item.id, "name": name, "version": item.version, "sha256": sha256},
    )
    audit.record(
        session,
        "evidence.add",
        actor=actor,
        at=at,
        target=f"INC-{incident.number}",
        details=details_of(item),
    )
    return item


def details_of(item: EvidenceItem) -> dict[str, str | int]:
    """Return what the audit log keeps of an item."""
    return {
        "evidence_id": item.id,
        "name": item.name,
        "version": item.version,
        "sha256": item.sha256,
        "size": item.size,
    }


def record(
    session: Session,
    *,
    item: EvidenceItem,
    who: str,
    action: str,
    at: datetime,
    timezone: str,
    location: str,
    note: str = "",
) -> CustodyEntry:
    """Append an entry to an item's chain of custody (in the caller's transaction)."""
    if action not in ACTIONS:
        raise ValueError(f"custody action must be one of {', '.join(ACTIONS)}: {action!r}")
    entry = CustodyEntry(
        item_id=item.id,
        at=at,
        timezone=timezone,
        who=who,
        action=action,
        location=location,
        note=note,
    )
    session.add(entry)
    return entry


def items(session: Session, *, incident: Incident) -> list[EvidenceItem]:
    """Return an incident's evidence, by name and then version."""
    stmt = (
        select(EvidenceItem)
        .where(EvidenceItem.incident_id == incident.id)
        .order_by(EvidenceItem.name, EvidenceItem.version)
    )
    return list(session.scalars(stmt))


def get(session: Session, *, incident: Incident, item_id: int) -> EvidenceItem:
    """Return one item of this incident, or raise NotFound."""
    item = session.get(EvidenceItem, item_id)
    if item is None or item.incident_id != incident.id:
        raise NotFound(f"INC-{incident.number} has no evidence item {item_id}")
    return item


def custody(session: Session, *, item_ids: list[int]) -> dict[int, list[CustodyEntry]]:
    """Return each item's custody entries, oldest first."""
    found: dict[int, list[CustodyEntry]] = {item_id: [] for item_id in item_ids}
    if not item_ids:
        return found
    stmt = (
        select(CustodyEntry)
        .where(CustodyEntry.item_id.in_(item_ids))
        .order_by(CustodyEntry.item_id, CustodyEntry.id)
    )
    for entry in session.scalars(stmt):
        found[entry.item_id].append(entry)
    return found


def every_item(session: Session) -> list[tuple[EvidenceItem, int]]:
    """Return every item in the database with its incident's number, oldest first."""
    stmt = (
        select(EvidenceItem, Incident.number)
        .join(Incident, Incident.id == EvidenceItem.incident_id)
        .order_by(EvidenceItem.id)
    )
    return [(item, int(number)) for item, number in session.execute(stmt)]
