"""Response roles beside the Incident Commander: deputy, scribe, communications, SMEs, reporter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from warroom.core.errors import Conflict, Invalid
from warroom.incidents import timeline
from warroom.incidents.models import Incident, IncidentRole
from warroom.incidents.queries import current_roles
from warroom.incidents.states import check_not_closed

# The commander is not here: it lives on the incident and changes only by handoff.
ROLES = {
    "deputy": "Deputy Incident Commander",
    "scribe": "Scribe",
    "communications": "Communications liaison",
    "sme": "Subject-matter expert",
    "reporter": "Reporter",
}
MANY = frozenset({"sme"})  # roles several people may hold at once


def check_role(role: str) -> str:
    """Return `role` if known, else raise Invalid naming the roles."""
    if role == "commander":
        raise Invalid(
            "the Incident Commander changes by handoff: POST …/commander", {"field": "role"}
        )
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}; use one of {', '.join(ROLES)}", {"field": "role"})
    return role


def assign(
    session: Session,
    *,
    incident: Incident,
    role: str,
    person: str,
    now: datetime,
    actor_name: str | None,
    source: str,
) -> bool:
    """Give `person` the role (replacing the holder of a single-person role); False if held."""
    check_role(role)
    check_not_closed(incident.ref, incident.status, "its roles no longer change")
    held = [r for r in current_roles(session, incident) if r.role == role]
    if any(r.person == person for r in held):
        return False
    replaced = [] if role in MANY else held
    for row in replaced:
        row.until = now
    session.add(
        IncidentRole(
            incident_id=incident.id, role=role, person=person, since=now, assigned_by=actor_name
        )
    )
    was = f" (was {', '.join(r.person for r in replaced)})" if replaced else ""
    timeline.record(
        session,
        incident=incident,
        kind="role_changed",
        at=now,
        actor=actor_name,
        source=source,
        text=f"{person} is {ROLES[role]}{was}",
        data={"role": role, "person": person, "replaced": [r.person for r in replaced]},
    )
    incident.updated_at = now
    return True


def record_reporter(session: Session, *, incident: Incident, person: str, now: datetime) -> None:
    """Note who reported an incident when it is declared (the timeline has it already)."""
    session.add(
        IncidentRole(
            incident_id=incident.id, role="reporter", person=person, since=now, assigned_by=person
        )
    )


def release(
    session: Session,
    *,
    incident: Incident,
    role: str,
    person: str,
    now: datetime,
    actor_name: str | None,
    source: str,
) -> None:
    """End `person`'s hold on the role, or raise Conflict if they do not hold it."""
    check_role(role)
    check_not_closed(incident.ref, incident.status, "its roles no longer change")
    rows = [r for r in current_roles(session, incident) if r.role == role and r.person == person]
    if not rows:
        raise Conflict(f"{person} is not {ROLES[role]} of {incident.ref}")
    for row in rows:
        row.until = now
    timeline.record(
        session,
        incident=incident,
        kind="role_changed",
        at=now,
        actor=actor_name,
        source=source,
        text=f"{person} is no longer {ROLES[role]}",
        data={"role": role, "released": person},
    )
    incident.updated_at = now
