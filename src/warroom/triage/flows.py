"""Triage flows: who leads and who helps, one transaction per request."""

from __future__ import annotations

from dataclasses import dataclass

from warroom.incidents import service as incidents
from warroom.incidents.actor import Actor
from warroom.incidents.details import load_detail
from warroom.incidents.flows import IncidentFlows
from warroom.incidents.schemas import IncidentDetail
from warroom.organisation import check_person
from warroom.triage import handoff, roles


@dataclass
class TriageFlows:
    """Runs the command and role use cases; the incident flows publish the result."""

    incidents: IncidentFlows

    def propose_commander(
        self, ref: str, *, actor: Actor, person: str, reason: str | None = None
    ) -> IncidentDetail:
        """Name a new Incident Commander (pending their acceptance if one is in charge)."""
        flows = self.incidents
        check_person(flows.config().people, person, field="person")
        with flows.db.transaction() as session:
            incident = incidents.get(session, ref, for_update=True)
            handoff.propose_commander(
                session,
                incident=incident,
                person=person,
                now=flows.clock.now(),
                actor=actor,
                reason=reason,
            )
            detail = load_detail(session, incident)
        return flows.finish("commander", detail)

    def answer_handoff(
        self, ref: str, *, actor: Actor, accept: bool, on_behalf: bool
    ) -> IncidentDetail:
        """Accept or decline a pending IC handoff."""
        flows = self.incidents
        with flows.db.transaction() as session:
            incident = incidents.get(session, ref, for_update=True)
            handoff.answer_handoff(
                session,
                incident=incident,
                accept=accept,
                now=flows.clock.now(),
                actor=actor,
                on_behalf=on_behalf,
            )
            detail = load_detail(session, incident)
        return flows.finish("commander", detail)

    def change_role(
        self, ref: str, *, actor: Actor, role: str, person: str, release: bool = False
    ) -> IncidentDetail:
        """Give someone a response role, or take it back."""
        actor.require("responder", f"change the roles of {ref}")
        flows = self.incidents
        if not release:  # whoever holds a role can give it back, configured or not
            roles.check_role(role)
            check_person(flows.config().people, person, field="person")
        with flows.db.transaction() as session:
            incident = incidents.get(session, ref, for_update=True)
            change = roles.release if release else roles.assign
            change(
                session,
                incident=incident,
                role=role,
                person=person,
                now=flows.clock.now(),
                actor_name=actor.name,
                source=actor.source,
            )
            detail = load_detail(session, incident)
        return flows.finish("role", detail)
