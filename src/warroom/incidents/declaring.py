"""Declaring incidents: one, or a storm's worth in one go, each with its checklist and first
timeline events. `incidents.service.declare` is the one-incident form everyone calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from warroom.core.errors import Invalid
from warroom.core.text import drill_title, slugify
from warroom.incidents import checklists, timeline
from warroom.incidents.actor import Actor
from warroom.incidents.fields import check_fields
from warroom.incidents.held import Held, held_text
from warroom.incidents.models import Incident
from warroom.storage import savepoints
from warroom.storage.counters import next_values

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

INCIDENT_COUNTER = "incident_number"
# Built once: constructing a statement costs more than a new incident's insert takes to run.
# Matched to their declarations by number: asking for parameter order made SQLAlchemy send
# SQLite one statement per row.
_INSERT = insert(Incident).returning(Incident)
# (kind, text, data): one of a new incident's first events.
Event = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class Declaration:
    """What one new incident is declared with (see `incidents.service.declare`)."""

    actor: Actor
    title: str
    severity: str | None = None
    summary: str = ""
    incident_type: str | None = None
    service: str | None = None
    commander: str | None = None
    commander_reason: str | None = None
    visibility: str | None = None
    started_at: datetime | None = None
    runbook_template: str | None = None
    checklist: list[tuple[str, str]] | None = None
    owner: str | None = None
    module: str | None = None
    held: Held | None = None
    drill_id: int | None = None


def declare_many(
    session: Session, *, config: WarroomConfig, now: datetime, declarations: list[Declaration]
) -> list[Incident]:
    """Open new incidents in `detected`, in order: numbers, rows, checklists and events are
    one statement each, however many (an alert storm opens hundreds in one transaction).

    Every declaration is checked before anything is written.
    """
    rows = [_row(config, now, declaration) for declaration in declarations]
    if not rows:
        return []
    for row, number in zip(rows, next_values(session, INCIDENT_COUNTER, len(rows)), strict=True):
        row["number"] = number
    loaded = list(session.scalars(_INSERT, rows, execution_options={"render_nulls": True}))
    savepoints.returned(session, loaded)  # a savepoint rolled back takes them with it
    by_number = {incident.number: incident for incident in loaded}
    made = [by_number[row["number"]] for row in rows]
    checklists.seed(
        session,
        [(incident, d.checklist or []) for incident, d in zip(made, declarations, strict=True)],
    )
    events: list[tuple[Incident, str, str, dict[str, Any]]] = []
    actors: list[str | None] = []
    sources: list[str] = []
    for incident, declaration in zip(made, declarations, strict=True):
        mine = [_declared(incident, declaration), *_commander(declaration)]
        events += [(incident, *event) for event in mine]
        actors += [declaration.actor.name] * len(mine)
        sources += [declaration.actor.source] * len(mine)
    timeline.record_all(session, events, at=now, actor=actors, source=sources)
    return made


def _row(config: WarroomConfig, now: datetime, declaration: Declaration) -> dict[str, Any]:
    """Check one declaration and return its incident's column values (without a number)."""
    d = declaration
    d.actor.require("responder", "declare an incident")
    type_id = d.incident_type or "default"
    type_config = config.incident_type(type_id)
    fields = check_fields(
        config, {"severity": d.severity, "incident_type": type_id, "service": d.service}
    )
    if d.held is not None:  # a viewer's report: the type's default severity, nobody paged yet
        fields["severity"] = None
    if fields["severity"] is None:
        default = type_config.default_severity if type_config else None
        fields["severity"] = default or (
            "SEV-3" if "SEV-3" in config.severities else max(config.severities)
        )
    if d.started_at is not None and d.started_at > now:
        raise Invalid("started_at is in the future", {"field": "started_at"})
    visibility = d.visibility
    if visibility is None:
        visibility = "restricted" if type_config and type_config.restricted else "public"
    return {
        "slug": slugify(d.title),
        "title": drill_title(d.title) if d.drill_id is not None else d.title,
        "drill_id": d.drill_id,
        "summary": d.summary,
        "status": "detected",
        "severity": fields["severity"],
        "peak_severity": fields["severity"],
        "incident_type": type_id,
        "service": d.service,
        "commander": d.commander,
        "visibility": visibility,
        "links": {},
        "source": d.actor.source,
        "runbook_template": d.runbook_template,
        "owner": d.owner,
        "module": d.module,
        "created_by": d.actor.name,
        "started_at": d.started_at,
        "detected_at": now,
        "updated_at": now,
        "suggested_severity": d.held.suggested_severity if d.held else None,
        "paging_held": d.held is not None,
    }


def _declared(incident: Incident, declaration: Declaration) -> Event:
    """Return the incident's first event: what was declared, at what severity, by whom."""
    data: dict[str, Any] = {
        "severity": incident.severity,
        "visibility": incident.visibility,
        "commander": declaration.commander,
        "paging_held": incident.paging_held,
        "suggested_severity": incident.suggested_severity,
    }
    if declaration.drill_id is not None:
        data["drill"] = declaration.drill_id
    text = f"Declared {incident.ref} ({incident.severity}): {incident.title}"
    return ("declared", text + held_text(incident), data)


def _commander(declaration: Declaration) -> list[Event]:
    """Return the event naming the first Incident Commander, if there is one."""
    commander, reason = declaration.commander, declaration.commander_reason
    if not commander:
        return []
    text = f"{commander} is Incident Commander" + (f": {reason}" if reason else "")
    return [("commander_changed", text, {"from": None, "to": commander, "reason": reason})]
