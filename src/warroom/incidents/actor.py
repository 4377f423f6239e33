"""Who did something to an incident, and who is asking: the values every service carries."""

from __future__ import annotations

from dataclasses import dataclass, field

from warroom.core.errors import Forbidden

# Lowest first: each role may do what the ones before it may.
ROLES = ("viewer", "responder", "admin")


@dataclass(frozen=True)
class Access:
    """Who is asking: the user (a person's id where people are configured), role and teams."""

    user: str
    role: str
    teams: frozenset[str] = field(default_factory=frozenset)

    @property
    def sees_everything(self) -> bool:
        """Tell whether this caller sees every incident (admins do)."""
        return self.role == "admin"


@dataclass(frozen=True)
class Actor:
    """Who did something, and through which channel (api, cli, web, demo, alertmanager…)."""

    name: str | None
    source: str
    # The signed-in user's role where one is known (viewer, responder, admin); None for the
    # engine, intake and other system actors, which act for warroom itself.
    role: str | None = None
    teams: frozenset[str] = field(default_factory=frozenset)

    @property
    def who(self) -> str:
        """Return the name the audit log gives this actor ("system:engine" for warroom itself)."""
        return self.name or f"system:{self.source}"

    @property
    def access(self) -> Access | None:
        """Return the signed-in user's Access (None for a system actor)."""
        if self.role is None or self.name is None:
            return None
        return Access(user=self.name, role=self.role, teams=self.teams)

    def require(self, role: str, doing: str) -> None:
        """Refuse a signed-in user below `role`; the routes check too, this is the last word.

        System actors (intake, the engine) have no role and pass: what they do was decided by
        the configuration, and a viewer's report is held by its own rule (incidents/held.py).
        """
        if self.role is not None and ROLES.index(self.role) < ROLES.index(role):
            raise Forbidden(
                f"{self.name} is a {self.role}; to {doing} you need the {role} role",
                {"role": self.role, "required": role},
            )
