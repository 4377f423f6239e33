"""Changing a checklist item in its own transaction, for the API and the pages alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from warroom.incidents import service as incidents
from warroom.incidents.actor import Actor
from warroom.mitigation import checklist
from warroom.mitigation.checklist import ChecklistChange, ChecklistChangeOut
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


def change_item(
    db: Database,
    *,
    config: WarroomConfig,
    now: datetime,
    ref: str,
    item_id: int,
    request: ChecklistChange,
    actor: Actor,
    refresh: Callable[[int, str], object],
) -> ChecklistChangeOut:
    """Mark an item done or not, skip it, set its owner or note; refresh the runbook file."""
    with db.transaction() as session:
        incident = incidents.get(session, ref, for_update=True)
        item, changes, event_id = checklist.change(
            session,
            config=config,
            incident=incident,
            item_id=item_id,
            request=request,
            actor=actor.name,
            source=actor.source,
            now=now,
        )
        out = checklist.outcome(
            session, incident=incident, item=item, changes=changes, event_id=event_id
        )
        number = incident.number
    if changes:
        refresh(number, "checklist")  # the runbook file shows it
    return out
