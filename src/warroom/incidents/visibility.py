"""Who may see an incident: the one rule every read of incidents goes through (ADR 008).

A public incident is visible to every user. A restricted one is visible to admins, to members
of its type's `access_teams`, and to its participants: the Incident Commander (and one
proposed), whoever holds or held a response role (reporter, deputy, scribe, …), whoever
declared it, and the people granted access or paged for it (`incident_grants`). To anyone
else it does not exist: a read answers 404, never 403, so existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Connection, Select, bindparam, exists, or_, select, true
from sqlalchemy.orm import Session

from warroom.audit import service as audit
from warroom.core.errors import Conflict, Forbidden, Invalid, NotFound
from warroom.incidents import timeline
from warroom.incidents.actor import Access, Actor
from warroom.incidents.models import Incident, IncidentGrant, IncidentRole
from warroom.incidents.states import check_not_closed
from warroom.organisation import check_person

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


def access_for(
    config: WarroomConfig, *, user: str, role: str, sso_teams: Iterable[str] = ()
) -> Access:
    """Return the Access of `user` with `role`, with the teams `warroom.yaml` puts them in and
    those single sign-on's groups gave them."""
    teams = {t.id for t in config.teams if user in t.members or user in t.leads}
    oidc = config.auth.oidc
    # A team from the provider's groups counts only while auth.oidc still maps a group to it:
    # removing the mapping takes the access away without waiting for the next sign-in.
    mapped = set(oidc.teams.values()) if oidc is not None else set()
    teams.update(team for team in sso_teams if team in mapped)
    return Access(user=user, role=role, teams=frozenset(teams))


def team_types(config: WarroomConfig, access: Access) -> list[str]:
    """Return the incident types whose restricted incidents the caller's teams may see."""
    return [t.id for t in config.incident_types if access.teams.intersection(t.access_teams)]


def visible(config: WarroomConfig, access: Access) -> ColumnElement[bool]:
    """Return the SQL condition an incident row must meet for `access` to see it."""
    if access.sees_everything:
        return true()
    return _participant_or_team(access.user, team_types(config, access))


def _participant_or_team(user: str, types: list[str]) -> ColumnElement[bool]:
    """Return the rule for a caller who is no admin: public, a team's type, or taking part."""
    role_held = exists().where(IncidentRole.incident_id == Incident.id, IncidentRole.person == user)
    granted = exists().where(IncidentGrant.incident_id == Incident.id, IncidentGrant.person == user)
    return or_(
        Incident.visibility == "public",
        Incident.incident_type.in_(types),
        Incident.commander == user,
        Incident.pending_commander == user,
        Incident.created_by == user,
        role_held,
        granted,
    )


def can_see(session: Session, config: WarroomConfig, access: Access, incident: Incident) -> bool:
    """Tell whether `access` may see this incident (the same rule as `visible`)."""
    if access.sees_everything or incident.visibility == "public":
        return True
    stmt = select(Incident.id).where(Incident.id == incident.id, visible(config, access))
    return session.scalar(stmt) is not None


def check_visible(
    session: Session, config: WarroomConfig, access: Access, incident: Incident
) -> None:
    """Raise NotFound, worded as for a missing incident, unless `access` may see it."""
    if not can_see(session, config, access, incident):
        raise NotFound(f"no incident {incident.ref}")


_BY_NUMBER = select(Incident.visibility).where(Incident.number == bindparam("number"))


class Hidden(NotFound):
    """An incident that exists and the caller may not see: answered as if it did not exist."""


def check_visible_number(
    session: Session | Connection, config: WarroomConfig, access: Access, number: int
) -> str:
    """Return incident `number`'s visibility if `access` may see it; else raise NotFound
    (Hidden when it exists: the caller audits the denial, the client cannot tell)."""
    # Every per-incident request runs this first: one query by number, with the rule as a
    # column for a caller who is no admin, so PostgreSQL answers in one round trip; the
    # rule's first term (public) spares the participant probes for a public incident.
    if access.sees_everything:
        row = session.execute(_BY_NUMBER, {"number": number}).first()
        if row is None:
            raise NotFound(f"no incident INC-{number}")
        return str(row.visibility)
    stmt = _visible_by_number(access.user, tuple(team_types(config, access)))
    seen = session.execute(stmt, {"number": number}).first()
    if seen is None:
        raise NotFound(f"no incident INC-{number}")
    if not seen.seen:
        raise Hidden(f"no incident INC-{number}")
    return str(seen.visibility)


@lru_cache(maxsize=1024)
def _visible_by_number(user: str, types: tuple[str, ...]) -> Select[bool, str]:
    """Return "may `user`, whose teams see `types`, see incident :number", built once."""
    # Building the rule and its cache key costs SQLAlchemy several times what the query
    # costs the database; a statement built once per caller keeps its key.
    condition = _participant_or_team(user, list(types))
    return select(condition.label("seen"), Incident.visibility).where(
        Incident.number == bindparam("number")
    )


def check_publish(
    config: WarroomConfig, access: Access, incident: Incident, reason: str | None
) -> None:
    """Refuse to make a restricted incident public but by an admin or an access team, with a
    reason (the change and the reason go on the timeline)."""
    if incident.visibility != "restricted":
        return
    if not (access.sees_everything or incident.incident_type in team_types(config, access)):
        teams = ", ".join(
            team
            for kind in config.incident_types
            if kind.id == incident.incident_type
            for team in kind.access_teams
        )
        who = f"an admin or the {teams} team" if teams else "an admin"
        raise Forbidden(f"only {who} can make {incident.ref} public")
    if not (reason or "").strip():
        raise Invalid(
            f"making {incident.ref} public needs a reason (it goes on the timeline)",
            {"field": "reason"},
        )


def check_declare_public(config: WarroomConfig, access: Access, incident_type: str) -> None:
    """Refuse to declare an incident of a restricted type public but by an admin or one of
    the type's access teams (the type restricts it for a reason)."""
    kind = config.incident_type(incident_type)
    if kind is None or not kind.restricted:
        return
    if not (access.sees_everything or access.teams.intersection(kind.access_teams)):
        teams = ", ".join(kind.access_teams)
        who = f"an admin or the {teams} team" if teams else "an admin"
        raise Forbidden(
            f"{kind.id} incidents are restricted: only {who} can declare one public "
            "(leave visibility out to declare it restricted)"
        )


def grant(
    session: Session,
    *,
    incident: Incident,
    people: Iterable[str],
    kind: str,
    by: str | None,
    reason: str | None,
    at: datetime,
) -> list[str]:
    """Let `people` into the incident (kind `grant` or `paged`); return those newly let in."""
    have = set(
        session.scalars(
            select(IncidentGrant.person).where(IncidentGrant.incident_id == incident.id)
        )
    )
    added = []
    for person in dict.fromkeys(people):  # keep order, drop repeats
        if person in have:
            continue
        session.add(
            IncidentGrant(
                incident_id=incident.id,
                person=person,
                kind=kind,
                reason=reason,
                granted_by=by,
                granted_at=at,
            )
        )
        added.append(person)
        audit.record(
            session,
            "incident.grant",
            actor=by or "system:escalation",
            at=at,
            target=incident.ref,
            details={"person": person, "kind": kind, "reason": reason},
        )
    return added


def let_in(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    access: Access,
    actor: Actor,
    person: str,
    reason: str,
    now: datetime,
) -> None:
    """Let `person` into a restricted incident (a key event), or raise saying why not."""
    check_not_closed(incident.ref, incident.status, "nobody more is let in")
    if incident.visibility != "restricted":
        raise Conflict(f"{incident.ref} is public: everyone who can sign in sees it already")
    allowed = (
        access.sees_everything
        or incident.incident_type in team_types(config, access)
        or incident.commander == access.user
    )
    if not allowed:
        raise Forbidden(
            f"only an admin, the Incident Commander or the {incident.incident_type} type's "
            f"access teams can let people into {incident.ref}"
        )
    check_person(config.people, person, field="person")
    added = grant(
        session,
        incident=incident,
        people=[person],
        kind="grant",
        by=actor.name,
        reason=reason,
        at=now,
    )
    if not added:
        raise Conflict(f"{person} already has access to {incident.ref}")
    incident.updated_at = now
    timeline.record(
        session,
        incident=incident,
        kind="access_granted",
        at=now,
        actor=actor.name,
        source=actor.source,
        text=f"{person} was let into this restricted incident: {reason}",
        data={"person": person, "reason": reason},
        key_event=True,
    )
