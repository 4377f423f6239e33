"""Incident flows: one transaction per request, then the runbook file is written."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from warroom.audit import service as audit
from warroom.core.clock import Clock
from warroom.incidents import checklists, service, timeline, visibility
from warroom.incidents.actor import Access, Actor
from warroom.incidents.details import load_detail, load_details
from warroom.incidents.lifecycle import Rules
from warroom.incidents.models import Incident
from warroom.incidents.queries import ListFilters, all_numbers, list_incidents
from warroom.incidents.schemas import (
    IncidentDetail,
    IncidentOut,
    NoteOut,
    TimelineEventOut,
)
from warroom.incidents.states import OPEN_STATUSES
from warroom.organisation import check_person
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.incidents")
SYNC_CHUNK = 200  # incidents read together by `sync_all`: few statements, bounded memory


@dataclass(frozen=True)
class TemplateChoice:
    """What a runbook template contributes to a new incident."""

    name: str | None
    checklist: list[tuple[str, str]]
    owner: str | None = None
    module: str | None = None


class RunbookPort(Protocol):
    """The runbook directory as the incident flows see it."""

    def choose_template(
        self,
        config: WarroomConfig,
        *,
        runbook: str | None,
        incident_type: str | None,
        service: str | None,
    ) -> TemplateChoice:
        """Pick the template an incident starts from."""
        ...

    def publish(self, incident: IncidentDetail, severity_name: str | None = None) -> bool:
        """Write the incident's file into active/ or archive/."""
        ...


Listener = Callable[[str, IncidentDetail], None]


@dataclass
class IncidentFlows:
    """Runs incident use cases against the database and keeps the runbook files in step."""

    db: Database
    config: Callable[[], WarroomConfig]
    clock: Clock
    runbooks: RunbookPort
    rules: Rules  # the phases' rules every change passes (ADR 005), from the composition root
    listeners: list[Listener] | None = None

    def finish(self, event: str, detail: IncidentDetail) -> IncidentDetail:
        """After commit: write the runbook file and tell listeners (metrics, later the engine)."""
        severity = self.config().severities.get(detail.severity)
        self.runbooks.publish(detail, severity.name if severity else None)
        for listener in self.listeners or []:
            listener(event, detail)
        return detail

    def declare(self, *, actor: Actor, runbook: str | None = None, **fields: Any) -> IncidentDetail:
        """Declare an incident from its runbook template."""
        config = self.config()
        chosen = self.runbooks.choose_template(
            config,
            runbook=runbook,
            incident_type=fields.get("incident_type"),
            service=fields.get("service"),
        )
        fields.setdefault("owner", None)
        fields.setdefault("module", None)
        fields["owner"] = fields["owner"] or chosen.owner
        fields["module"] = fields["module"] or fields.get("service") or chosen.module
        now = self.clock.now()
        if fields.get("commander"):
            # Only a commander someone named must be a configured person; the one chosen
            # below may be the reporter, who need not be (a machine declaring, say).
            check_person(config.people, fields["commander"], field="commander")
            fields["commander_reason"] = f"named by {actor.name or actor.source} when declaring"
        else:
            fields["commander"], fields["commander_reason"] = self.rules.command.first_commander(
                config, service=fields.get("service"), reporter=actor.name, at=now
            )
        with self.db.transaction() as session:
            incident = service.declare(
                session,
                config=config,
                now=now,
                actor=actor,
                runbook_template=chosen.name,
                checklist=chosen.checklist,
                **fields,
            )
            if actor.name:  # the "declared" event already says who; no second event
                self.rules.command.reporter(session, incident=incident, person=actor.name, now=now)
            detail = load_detail(session, incident)
        # A restricted incident's title stays out of the logs (they go to shared systems).
        title = detail.title if detail.visibility == "public" else "(restricted)"
        log.info(
            "declared %s (%s): %s",
            detail.ref,
            detail.severity,
            title,
            extra={"incident": detail.ref},
        )
        return self.finish("declared", detail)

    def update(
        self,
        ref: str,
        *,
        actor: Actor,
        changes: dict[str, Any],
        reason: str | None = None,
        access: Access | None = None,
    ) -> IncidentDetail:
        """Change fields of an incident; a new incident type brings its runbook's checklist.

        `access` is the person asking, where there is one: making a restricted incident
        public is theirs to do only as an admin or one of the type's access teams.
        """
        config, now = self.config(), self.clock.now()
        with self.db.transaction() as session:
            incident = service.get(session, ref, for_update=True)
            was = incident.visibility
            if access is not None and changes.get("visibility") == "public":
                visibility.check_publish(config, access, incident, reason)
            changed = service.update(
                session,
                config=config,
                incident=incident,
                now=now,
                actor=actor,
                changes=changes,
                rules=self.rules,
                reason=reason,
            )
            if "incident_type" in changed:
                self._follow_type(
                    session,
                    config=config,
                    incident=incident,
                    now=now,
                    actor=actor,
                    keep_visibility="visibility" in changes,
                )
            if incident.visibility != was:
                audit.record(
                    session,
                    "incident.visibility",
                    actor=actor.who,
                    at=now,
                    target=incident.ref,
                    details={"from": was, "to": incident.visibility, "reason": reason},
                )
            detail = load_detail(session, incident)
        return self.finish("updated", detail)

    def _follow_type(
        self,
        session: Session,
        *,
        config: WarroomConfig,
        incident: Incident,
        now: datetime,
        actor: Actor,
        keep_visibility: bool,
    ) -> None:
        """Follow a new incident type: its restriction, and its runbook's checklist."""
        type_config = config.incident_type(incident.incident_type)
        if (
            type_config is not None
            and type_config.restricted
            and incident.visibility == "public"
            and not keep_visibility
        ):
            # A type that is restricted (security) restricts the incident; never the reverse.
            service.update(
                session,
                config=config,
                incident=incident,
                now=now,
                actor=actor,
                changes={"visibility": "restricted"},
                rules=self.rules,
                reason=f"{type_config.name or type_config.id} incidents are restricted",
            )
        if incident.status in OPEN_STATUSES:
            chosen = self.runbooks.choose_template(
                config,
                runbook=None,
                incident_type=incident.incident_type,
                service=incident.service,
            )
            checklists.switch(
                session,
                incident=incident,
                template=chosen.name,
                checklist=chosen.checklist,
                now=now,
                actor=actor,
            )

    def acknowledge(self, ref: str, *, actor: Actor) -> IncidentDetail:
        """Acknowledge an incident (idempotent)."""
        with self.db.transaction() as session:
            incident = service.get(session, ref, for_update=True)
            service.acknowledge(session, incident=incident, now=self.clock.now(), actor=actor)
            detail = load_detail(session, incident)
        return self.finish("acknowledged", detail)

    def transition(
        self,
        ref: str,
        action: str,
        *,
        actor: Actor,
        note: str | None = None,
        fields: dict[str, Any] | None = None,
        skip_verification: str | None = None,
        false_alarm: str | None = None,
        waive_postmortem: str | None = None,
    ) -> IncidentDetail:
        """Move an incident through its lifecycle (`fields` may give triage a new type)."""
        config, now = self.config(), self.clock.now()
        with self.db.transaction() as session:
            incident = service.get(session, ref, for_update=True)
            kind = incident.incident_type
            service.transition(
                session,
                config=config,
                incident=incident,
                action=action,
                now=now,
                actor=actor,
                rules=self.rules,
                note=note,
                fields=fields,
                skip_verification=skip_verification,
                false_alarm=false_alarm,
                waive_postmortem=waive_postmortem,
            )
            if incident.incident_type != kind:
                self._follow_type(
                    session,
                    config=config,
                    incident=incident,
                    now=now,
                    actor=actor,
                    keep_visibility="visibility" in (fields or {}),
                )
            detail = load_detail(session, incident)
        log.info("%s is now %s", detail.ref, detail.status, extra={"incident": detail.ref})
        return self.finish(action, detail)

    def note(
        self,
        ref: str,
        *,
        actor: Actor,
        text: str,
        at: datetime | None = None,
        key_event: bool = False,
    ) -> NoteOut:
        """Add a note to an incident's timeline; say which of its notes it is."""
        with self.db.transaction() as session:
            incident = service.get(session, ref, for_update=True)
            event = service.add_note(
                session,
                incident=incident,
                now=self.clock.now(),
                actor=actor,
                text=text,
                at=at,
                key_event=key_event,
            )
            session.flush()
            # The incident's row lock orders its notes, so the count is the note's number.
            number = service.count_notes(session, incident=incident, up_to=event.id)
            out = NoteOut(**TimelineEventOut.of(event).model_dump(), number=number)
            detail = load_detail(session, incident)
        self.finish("note", detail)
        return out

    def refresh(self, number: int, event: str) -> IncidentDetail:
        """Rewrite the runbook file of an incident changed by another flow (intake, engine)."""
        with self.db.session() as session:
            detail = load_detail(session, service.get(session, number))
        return self.finish(event, detail)

    def refresh_many(self, changes: list[tuple[int, str]]) -> None:
        """Rewrite the runbook files of several incidents changed together (an intake drain):
        their rows read in a few statements, not a few per incident."""
        if not changes:
            return
        with self.db.session() as session:
            details = {d.number: d for d in load_details(session, [n for n, _ in changes])}
        for number, event in changes:
            if number not in details:
                continue
            try:
                self.finish(event, details[number])
            except Exception:  # committed; one incident's file or listener must not stop the rest
                log.exception("cannot refresh INC-%s", number)

    def get(self, ref: str) -> IncidentDetail:
        """Return an incident with its checklist and timeline."""
        with self.db.session() as session:
            return load_detail(session, service.get(session, ref))

    def summary(self, ref: str) -> IncidentOut:
        """Return an incident's own fields alone (no checklist, roles or timeline)."""
        with self.db.session() as session:
            return IncidentOut.of(service.get(session, ref))

    def recent(self, ref: str, *, events: int) -> tuple[IncidentDetail, int]:
        """Return an incident with only its newest `events` timeline events, and how many
        events it has in all (a page shows the end of a long incident, not all of it)."""
        with self.db.session() as session:
            incident = service.get(session, ref)
            detail = load_detail(session, incident, newest=events)
            return detail, timeline.count(session, incident=incident)

    def page(
        self, *, access: Access, filters: ListFilters, limit: int, cursor: str | None
    ) -> tuple[list[IncidentOut], str | None]:
        """Return a page of the incidents `access` may see, and the next cursor."""
        condition = visibility.visible(self.config(), access)
        with self.db.session() as session:
            rows, next_cursor = list_incidents(
                session, filters=filters, visible=condition, limit=limit, cursor=cursor
            )
            return [IncidentOut.of(row) for row in rows], next_cursor

    def check_visible(self, ref: str, access: Access, *, request: str | None = None) -> None:
        """Raise NotFound unless the incident exists and `access` may see it.

        Audited: every access to a restricted incident, and every refused one (`request`,
        such as "GET /api/v1/incidents/7", says what was asked).
        """
        number = service.parse_ref(ref)
        try:
            with self.db.reading() as connection:
                seen = visibility.check_visible_number(connection, self.config(), access, number)
        except visibility.Hidden:
            self._audit_access(number, access, request, "denied")
            raise
        if seen == "restricted":
            self._audit_access(number, access, request, "ok")

    def _audit_access(self, number: int, access: Access, request: str | None, outcome: str) -> None:
        """Note who reached (or was refused) a restricted incident: it commits with the
        request's change, or alone before the request answers (api/audit_context.py)."""
        audit.record_with_request(
            self.db,
            "incident.access",
            actor=access.user,
            at=self.clock.now(),
            target=f"INC-{number}",
            outcome=outcome,
            details={"request": request} if request else {},
        )

    def grant(
        self, ref: str, *, actor: Actor, access: Access, person: str, reason: str
    ) -> IncidentDetail:
        """Let `person` into a restricted incident, on the timeline; admins, the incident
        type's access teams and its Incident Commander may."""
        config = self.config()
        with self.db.transaction() as session:
            incident = service.get(session, ref, for_update=True)
            visibility.let_in(
                session,
                config=config,
                incident=incident,
                access=access,
                actor=actor,
                person=person,
                reason=reason,
                now=self.clock.now(),
            )
            detail = load_detail(session, incident)
        return self.finish("access", detail)

    def timeline(self, ref: str, *, after_id: int, limit: int) -> list[TimelineEventOut]:
        """Return timeline events after `after_id`."""
        with self.db.session() as session:
            incident = service.get(session, ref)
            events = timeline.events(session, incident=incident, after_id=after_id, limit=limit)
            return [TimelineEventOut.of(e) for e in events]

    def sync_all(self, progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
        """Rewrite every incident's runbook file from the database; return (written, failed)."""
        written = failed = 0
        with self.db.session() as session:
            numbers = all_numbers(session)
        done = 0
        for start in range(0, len(numbers), SYNC_CHUNK):
            with self.db.session() as session:
                details = load_details(session, numbers[start : start + SYNC_CHUNK])
            for detail in details:
                severity = self.config().severities.get(detail.severity)
                if self.runbooks.publish(detail, severity.name if severity else None):
                    written += 1
                else:
                    failed += 1
                done += 1
                if progress is not None:
                    progress(done, len(numbers))
        return written, failed
