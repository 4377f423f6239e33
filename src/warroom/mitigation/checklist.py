"""Mitigation checklists: read an incident's items with progress; mark, skip, assign, annotate."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import NotFound
from warroom.incidents import timeline
from warroom.incidents.models import ChecklistItem, Incident
from warroom.incidents.states import check_not_closed
from warroom.organisation import check_person

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

REASON_MAX = 1_000
NOTE_MAX = 2_000
OWNER_MAX = 64  # the column's width
QUOTE_MAX = 120  # characters of an item's text quoted on the timeline
TIMELINE_TEXT_MAX = 400

ItemState = Literal["open", "done", "skipped"]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REASON_MAX)
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)]
Owner = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=OWNER_MAX)]


class ChecklistChange(BaseModel):
    """A PATCH body: any of done, skipped_reason, owner, note (an absent field stays as it is)."""

    model_config = ConfigDict(extra="forbid")

    done: bool | None = None
    skipped_reason: Reason | None = None
    owner: Owner | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> ChecklistChange:
        if not self.model_fields_set:
            raise ValueError("nothing to change: send done, skipped_reason, owner or note")
        if "done" in self.model_fields_set and self.done is None:
            raise ValueError("done must be true or false")
        if self.done and self.skipped_reason is not None:
            raise ValueError("an item is either done or skipped, not both")
        return self


class ChecklistEntry(BaseModel):
    """One item, with its place in the incident's checklist (`number`, 1-based)."""

    id: int
    number: int
    section: str
    text: str
    state: ItemState
    owner: str | None
    done_at: datetime | None
    done_by: str | None
    skipped_reason: str | None
    note: str | None

    @classmethod
    def of(cls, item: ChecklistItem, number: int) -> ChecklistEntry:
        """Build from the model."""
        return cls(
            id=item.id,
            number=number,
            section=item.section,
            text=item.text,
            state=state_of(item),
            owner=item.owner,
            done_at=item.done_at,
            done_by=item.done_by,
            skipped_reason=item.skipped_reason,
            note=item.note,
        )


class Progress(BaseModel):
    """How far a section (or the whole checklist) is: `completed` = done + skipped."""

    done: int
    skipped: int
    open: int
    total: int
    completed: int


class ChecklistSection(BaseModel):
    """A section of the checklist (Containment, Remediation, Verification, …) in order."""

    name: str
    progress: Progress
    items: list[ChecklistEntry]


class ChecklistOut(BaseModel):
    """An incident's checklist grouped by section, with progress per section and overall."""

    incident: str
    status: str
    progress: Progress
    sections: list[ChecklistSection]


class ChecklistChangeOut(BaseModel):
    """The changed item, what changed (empty when nothing did), the event's id and progress."""

    incident: str
    item: ChecklistEntry
    changes: list[str]
    event_id: int | None
    section_progress: Progress
    progress: Progress


def state_of(item: ChecklistItem) -> ItemState:
    """Return whether an item is open, done or skipped."""
    if item.done_at is not None:
        return "done"
    return "skipped" if item.skipped_reason else "open"


def items(session: Session, *, incident: Incident) -> list[ChecklistItem]:
    """Return the incident's items in checklist order."""
    stmt = (
        select(ChecklistItem)
        .where(ChecklistItem.incident_id == incident.id)
        .order_by(ChecklistItem.section_position, ChecklistItem.position, ChecklistItem.id)
    )
    return list(session.scalars(stmt))


def open_items(
    session: Session, *, incident: Incident, section: str | None = None
) -> list[ChecklistItem]:
    """Return the items neither done nor skipped (in one section, if given)."""
    return [
        item
        for item in items(session, incident=incident)
        if state_of(item) == "open" and (section is None or item.section == section)
    ]


def _progress(rows: list[ChecklistEntry]) -> Progress:
    done = sum(1 for r in rows if r.state == "done")
    skipped = sum(1 for r in rows if r.state == "skipped")
    return Progress(
        done=done,
        skipped=skipped,
        open=len(rows) - done - skipped,
        total=len(rows),
        completed=done + skipped,
    )


def view(session: Session, *, incident: Incident) -> ChecklistOut:
    """Return the checklist grouped by section, in template order, with progress."""
    entries = [
        ChecklistEntry.of(item, number)
        for number, item in enumerate(items(session, incident=incident), start=1)
    ]
    grouped: dict[str, list[ChecklistEntry]] = {}
    for entry in entries:
        grouped.setdefault(entry.section, []).append(entry)
    return ChecklistOut(
        incident=incident.ref,
        status=incident.status,
        progress=_progress(entries),
        sections=[
            ChecklistSection(name=name, progress=_progress(rows), items=rows)
            for name, rows in grouped.items()
        ],
    )


def find(session: Session, *, incident: Incident, item_id: int) -> ChecklistItem:
    """Return the incident's item with this id, or raise NotFound."""
    item = session.get(ChecklistItem, item_id)
    if item is None or item.incident_id != incident.id:
        raise NotFound(
            f"{incident.ref} has no checklist item {item_id}; "
            f"see GET /api/v1/incidents/{incident.ref}/checklist",
            {"item_id": item_id},
        )
    return item


def _quote(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= QUOTE_MAX else line[: QUOTE_MAX - 1] + "…"


def _shorten(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TIMELINE_TEXT_MAX else line[: TIMELINE_TEXT_MAX - 1] + "…"


def change(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    item_id: int,
    request: ChecklistChange,
    actor: str | None,
    source: str,
    now: datetime,
) -> tuple[ChecklistItem, list[str], int | None]:
    """Apply a change to one item and write its `checklist` timeline event (caller's transaction).

    Return the item, the names of what changed (done, undone, skipped, unskipped, owner,
    note) and the event's id; a request that changes nothing writes nothing.
    """
    item = find(session, incident=incident, item_id=item_id)
    check_not_closed(incident.ref, incident.status, "its checklist is frozen")
    given = request.model_fields_set
    if "owner" in given and request.owner is not None:
        check_person(config.people, request.owner, field="owner")

    by = f" by {actor}" if actor else ""
    changes: list[str] = []
    clauses: list[str] = []
    data: dict[str, Any] = {"item_id": item.id, "section": item.section, "item": item.text}
    was = state_of(item)
    if request.done is True and was != "done":
        item.done_at, item.done_by, item.skipped_reason = now, actor, None
        changes.append("done")
        clauses.append(f"done{by}" + (" (was skipped)" if was == "skipped" else ""))
    elif request.skipped_reason is not None and (
        was != "skipped" or item.skipped_reason != request.skipped_reason
    ):
        item.done_at = item.done_by = None
        item.skipped_reason = request.skipped_reason
        changes.append("skipped")
        clauses.append(f"skipped{by}: {request.skipped_reason}")
        data["reason"] = request.skipped_reason
    elif request.done is False and was == "done":
        item.done_at = item.done_by = None
        changes.append("undone")
        clauses.append(f"marked not done{by}")
    elif "skipped_reason" in given and request.skipped_reason is None and was == "skipped":
        item.skipped_reason = None
        changes.append("unskipped")
        clauses.append(f"no longer skipped{by}")

    if "owner" in given and request.owner != item.owner:
        data["owner"], data["previous_owner"] = request.owner, item.owner
        item.owner = request.owner
        changes.append("owner")
        clauses.append(f"assigned to {request.owner}" if request.owner else "unassigned")
    if "note" in given:
        note = request.note or None  # an empty note clears it
        if note != item.note:
            item.note = note
            data["note"] = note
            changes.append("note")
            clauses.append(f"note: {note}" if note else "note cleared")

    if not changes:
        return item, [], None
    data["change"], data["changes"] = changes[0], changes
    data["state"] = state_of(item)
    incident.updated_at = now
    event = timeline.record(
        session,
        incident=incident,
        kind="checklist",
        text=_shorten(f'{item.section}: "{_quote(item.text)}" ' + "; ".join(clauses)),
        at=now,
        actor=actor,
        source=source,
        data=data,
    )
    session.flush()  # the answer carries the event's id
    return item, changes, event.id


def outcome(
    session: Session,
    *,
    incident: Incident,
    item: ChecklistItem,
    changes: list[str],
    event_id: int | None,
) -> ChecklistChangeOut:
    """Return the answer to a change: the item as it is now, with the progress it made."""
    current = view(session, incident=incident)
    section = next(s for s in current.sections if s.name == item.section)
    return ChecklistChangeOut(
        incident=incident.ref,
        item=next(entry for entry in section.items if entry.id == item.id),
        changes=changes,
        event_id=event_id,
        section_progress=section.progress,
        progress=current.progress,
    )
