"""Who pressed a Slack button: the person linked to the Slack id, as the warroom user they are.

A Slack user acts with their own warroom role and sees only the incidents they may see; an
unlinked Slack user, a person without a warroom user, a disabled user or a viewer is told
politely what is missing, and nothing changes.
"""

from __future__ import annotations

from sqlalchemy import select

from warroom.auth.models import User
from warroom.auth.service import sso_teams
from warroom.core.errors import NotFound
from warroom.incidents import service as incidents
from warroom.incidents.actor import ROLES, Actor
from warroom.incidents.visibility import access_for, check_visible
from warroom.organisation import PersonConfig
from warroom.runtime import Runtime

SOURCE = "slack"


def linked_person(runtime: Runtime, user_id: str) -> PersonConfig | None:
    """Return the person whose `slack:` id is `user_id`, if anyone's is."""
    return next((p for p in runtime.config().people if p.slack == user_id), None)


def unlinked(user_id: str) -> str:
    """Say how to link a Slack account that is nobody's in warroom.yaml."""
    return (
        f"Your Slack account ({user_id}) is not linked to anyone in warroom. Ask an admin to "
        f"add `slack: {user_id}` to your entry under `people:` in warroom.yaml."
    )


def linked_role(runtime: Runtime, user_id: str | None) -> tuple[str | None, str | None]:
    """Return (person id, warroom role) of a Slack user; None for what is not there (an
    unlinked Slack id, a person without a warroom user, a disabled user has no role)."""
    person = linked_person(runtime, user_id) if user_id else None
    if person is None:
        return None, None
    with runtime.db.session() as session:
        user = session.scalars(select(User).where(User.name == person.id)).first()
        if user is None or user.disabled_at is not None:
            return person.id, None
        return person.id, user.role


def slack_actor(runtime: Runtime, user_id: str, *, number: int, doing: str) -> Actor | str:
    """Return the Slack user as a responder acting on incident `number`, or why they cannot.

    `doing` names the act in the refusal ("acknowledge INC-4").
    """
    person = linked_person(runtime, user_id)
    if person is None:
        return unlinked(user_id)
    config = runtime.config()
    with runtime.db.session() as session:
        user = session.scalars(select(User).where(User.name == person.id)).first()
        if user is None:
            return (
                f"You ({person.id}) have no warroom user, so you cannot {doing}. Ask an admin: "
                f"`warroom users create {person.id} --role responder`."
            )
        if user.disabled_at is not None:
            return f"Your warroom user {person.id} is disabled, so you cannot {doing}."
        if ROLES.index(user.role) < ROLES.index("responder"):
            return (
                f"You ({person.id}) are a {user.role} in warroom; to {doing} you need the "
                "responder role. Ask an admin: "
                f"`warroom users set-role {person.id} responder`."
            )
        try:
            incident = incidents.get(session, number)
        except NotFound:
            incident = None  # the caller's own flow says so, in its words
        if incident is not None:
            access = access_for(
                config, user=user.name, role=user.role, sso_teams=sso_teams(user.sso_teams)
            )
            try:
                check_visible(session, config, access, incident)
            except NotFound as exc:  # the same words as for an incident that does not exist
                return f"Cannot {doing}: {exc.message}"
        return Actor(name=person.id, source=SOURCE, role=user.role)
