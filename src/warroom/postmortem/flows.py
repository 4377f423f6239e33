"""Postmortem flows: one transaction per request, the runbook file rewritten after it.

A postmortem row is created when its incident resolves (`StartOnResolve`, a listener on the
incident flows) or on the first write; reading one that does not exist yet answers with the
draft it would start as, and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from warroom.audit import service as audit
from warroom.core.clock import Clock
from warroom.core.errors import Conflict, NotFound
from warroom.incidents import service as incidents
from warroom.incidents.actor import Access, Actor
from warroom.incidents.flows import IncidentFlows
from warroom.incidents.models import Incident
from warroom.incidents.schemas import IncidentDetail
from warroom.incidents.visibility import can_see
from warroom.postmortem import action_items, document, export, service
from warroom.postmortem.schemas import ActionItemOut, PostmortemOut
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.postmortem")
TRIGGERS = frozenset({"resolve", "close"})  # flow events after which a postmortem is due


@dataclass(frozen=True)
class Exported:
    """A postmortem written into archive/."""

    incident: str
    paths: list[Path]


@dataclass
class StartOnResolve:
    """Creates the postmortem right after the resolve commits (a write creates it otherwise)."""

    db: Database
    config: Callable[[], WarroomConfig]
    clock: Clock

    def __call__(self, event: str, detail: IncidentDetail) -> None:
        """Create the postmortem of a just-resolved incident; never fail the resolve."""
        if event not in TRIGGERS or detail.status not in service.DONE_STATUSES:
            return
        try:
            with self.db.transaction() as session:
                incident = incidents.get(session, detail.number, for_update=True)
                if service.find(session, incident) is not None:
                    return
                service.ensure(
                    session, config=self.config(), incident=incident, now=self.clock.now()
                )
        except Exception:  # the incident is resolved already; the first write creates it
            log.exception("cannot start the postmortem", extra={"incident": detail.ref})


def install(flows: IncidentFlows) -> None:
    """Add the listener to the incident flows (once, however often the app is built)."""
    if flows.listeners is None:
        flows.listeners = []
    if not any(isinstance(item, StartOnResolve) for item in flows.listeners):
        flows.listeners.append(StartOnResolve(db=flows.db, config=flows.config, clock=flows.clock))


@dataclass
class PostmortemFlows:
    """Runs the postmortem use cases; the incident flows rewrite the runbook file after."""

    incidents: IncidentFlows
    archive: Path  # where exports are written (the runbooks' archive/)
    # Sections other phases add to an export, (markdown, HTML) per incident ref and actor:
    # the composition root wires evidence's here (a phase does not import another).
    sections: list[Callable[[str, str | None], tuple[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        install(self.incidents)  # a postmortem starts when its incident resolves

    def get(self, ref: str) -> PostmortemOut:
        """Return the postmortem of a resolved or closed incident (Conflict while it is open)."""
        with self.incidents.db.session() as session:
            incident = incidents.get(session, ref)
            return self._document(session, incident)

    def save(
        self,
        ref: str,
        *,
        actor: Actor,
        values: dict[str, Any],
        expected_version: int | None = None,
    ) -> PostmortemOut:
        """Replace the postmortem's editable fields (created on this first write if needed).

        With `expected_version` (the version the editor loaded), a save against an older
        version raises `service.StaleVersion` and writes nothing.
        """
        actor.require("responder", f"edit the postmortem of {ref}")
        flows = self.incidents
        with flows.db.transaction() as session:
            incident = incidents.get(session, ref, for_update=True)
            postmortem = service.update(
                session,
                config=flows.config(),
                incident=incident,
                values=values,
                actor=actor.name,
                source=actor.source,
                now=flows.clock.now(),
                expected_version=expected_version,
            )
            out = document.build(session, incident=incident, postmortem=postmortem)
            number = incident.number
        flows.refresh(number, "postmortem")
        return out

    def add_item(
        self, ref: str, *, actor: Actor, values: dict[str, Any], create_jira: bool | None
    ) -> ActionItemOut:
        """Add an action item to the incident's postmortem (and ask for a Jira issue)."""
        actor.require("responder", f"add action items to {ref}")
        flows = self.incidents
        with flows.db.transaction() as session:
            incident = incidents.get(session, ref, for_update=True)
            item = action_items.add_item(
                session,
                config=flows.config(),
                incident=incident,
                values=values,
                actor=actor.name,
                source=actor.source,
                now=flows.clock.now(),
                create_jira=create_jira,
            )
            out = ActionItemOut.of(item, incident.ref)
            number = incident.number
        flows.refresh(number, "postmortem")
        return out

    def change_item(
        self, item_id: int, *, actor: Actor, access: Access, changes: dict[str, Any]
    ) -> ActionItemOut:
        """Change some fields of an action item (of an incident `access` may see)."""
        actor.require("responder", "change action items")
        flows = self.incidents
        with flows.db.transaction() as session:
            # Locked: one writer at a time.
            incident = action_items.incident_of_item(session, item_id)
            if not can_see(session, flows.config(), access, incident):
                raise NotFound(f"no action item {item_id}")  # as if there were none
            item = action_items.get_item(session, item_id)
            action_items.update_item(
                session,
                item=item,
                incident=incident,
                changes=changes,
                actor=actor.name,
                source=actor.source,
                now=flows.clock.now(),
                config=flows.config(),
            )
            out = ActionItemOut.of(item, incident.ref)
            number = incident.number
        flows.refresh(number, "postmortem")
        return out

    def export(self, ref: str, *, actor: str) -> Exported:
        """Write the postmortem as markdown, HTML and two SVGs into archive/ (audited)."""
        with self.incidents.db.session() as session:
            incident = incidents.get(session, ref)
            out = self._document(session, incident)
            slug, restricted = incident.slug, incident.visibility == "restricted"
        extra = [section(out.incident, actor) for section in self.sections]
        try:
            paths = export.write(
                out, archive=self.archive, slug=slug, restricted=restricted, extra=extra
            )
        except OSError as exc:
            raise Conflict(
                f"cannot write the postmortem into {self.archive}: {exc.strerror or exc}"
            ) from None
        audit.record_now(
            self.incidents.db,
            "postmortem.export",
            actor=actor,
            at=self.incidents.clock.now(),
            target=out.incident,
            details={"files": [path.name for path in paths], "restricted": restricted},
        )
        return Exported(incident=out.incident, paths=paths)

    def _document(self, session: Session, incident: Incident) -> PostmortemOut:
        """Build the document from the saved postmortem, or from the draft it would start as."""
        service.check_done(incident)  # reopened since: no postmortem while it is open
        postmortem = service.find(session, incident) or service.draft(
            config=self.incidents.config(), incident=incident, now=self.incidents.clock.now()
        )
        return document.build(session, incident=incident, postmortem=postmortem)
