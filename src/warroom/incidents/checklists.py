"""An incident's checklist from its runbook template: seeded when declared, switched when the
incident turns out to be of another type."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.models import ChecklistItem, Incident

_INSERT = insert(cast(Table, ChecklistItem.__table__))  # built once


def seed(session: Session, checklists: list[tuple[Incident, list[tuple[str, str]]]]) -> None:
    """Add each new incident's (section, text) items, in template order, in one statement."""
    rows = [
        {
            "incident_id": incident.id,
            "section": section,
            "section_position": section_index,
            "position": position,
            "text": text,
        }
        for incident, checklist in checklists
        for section_index, (section, items) in enumerate(_group_sections(checklist))
        for position, text in enumerate(items)
    ]
    if rows:
        # One executemany statement: the ORM would send one INSERT … RETURNING per item on
        # SQLite (it cannot match a batch's new ids to its objects), and nothing here needs them.
        session.execute(_INSERT, rows)


def switch(
    session: Session,
    *,
    incident: Incident,
    template: str | None,
    checklist: list[tuple[str, str]],
    now: datetime,
    actor: Actor,
) -> bool:
    """Move the incident to another runbook template's checklist; return whether it changed.

    Work already done is kept: items done, skipped, owned or annotated stay, whatever their
    template. Untouched items the new template does not have go; its new items are added.
    """
    actor.require("responder", f"tick checklist items of {incident.ref}")
    if template == incident.runbook_template:
        return False
    current = list(
        session.scalars(
            select(ChecklistItem)
            .where(ChecklistItem.incident_id == incident.id)
            .order_by(ChecklistItem.section_position, ChecklistItem.position, ChecklistItem.id)
        )
    )
    wanted = _group_sections(checklist)
    wanted_keys = {(section, text) for section, texts in wanted for text in texts}
    have = {(item.section, item.text) for item in current}
    removed = [
        item
        for item in current
        if (item.section, item.text) not in wanted_keys
        and item.done_at is None
        and not item.skipped_reason
        and item.owner is None
        and item.note is None
    ]
    for item in removed:
        session.delete(item)
    kept = [item for item in current if item not in removed]
    added = [
        ChecklistItem(incident_id=incident.id, section=section, text=text, position=0)
        for section, texts in wanted
        for text in texts
        if (section, text) not in have
    ]
    session.add_all(added)
    # The new template's sections first, in its order; sections only old work has, after.
    order = [section for section, _ in wanted]
    order += [i.section for i in kept if i.section not in order]
    by_section: dict[str, list[ChecklistItem]] = {name: [] for name in dict.fromkeys(order)}
    for item in [*kept, *added]:
        by_section[item.section].append(item)
    for section_index, items in enumerate(by_section.values()):
        for position, item in enumerate(items):
            item.section_position, item.position = section_index, position
    previous = incident.runbook_template
    incident.runbook_template = template
    incident.updated_at = now
    timeline.record(
        session,
        incident=incident,
        kind="runbook_changed",
        at=now,
        actor=actor.name,
        source=actor.source,
        text=f"Runbook is now {template or 'the built-in checklist'} (was {previous or 'none'}): "
        f"{len(added)} checklist item(s) added, {len(removed)} untouched one(s) removed, "
        f"{len(kept)} kept",
        data={
            "from": previous,
            "to": template,
            "added": len(added),
            "removed": [item.text for item in removed],
            "kept": len(kept),
        },
    )
    return True


def _group_sections(items: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Group (section, text) pairs by section, keeping first-seen order."""
    grouped: dict[str, list[str]] = {}
    for section, text in items:
        grouped.setdefault(section, []).append(text)
    return list(grouped.items())
