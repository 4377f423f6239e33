"""The people and teams of `warroom.yaml`, and the checks that tie them to services."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from warroom.core.errors import Invalid

PERSON_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class PersonConfig(BaseModel):
    """Someone who can be on call, lead a team or command an incident."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=PERSON_ID)
    name: str
    email: EmailStr | None = None
    slack: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,}$")
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9 ]{6,20}$")
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
            ) from None
        return value


class TeamConfig(BaseModel):
    """A team: its members and the leads escalation and command fall back to."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=PERSON_ID)
    name: str | None = None
    members: list[str] = Field(default_factory=list)
    leads: list[str] = Field(default_factory=list)


def check_people(
    people: list[PersonConfig], teams: list[TeamConfig]
) -> list[tuple[tuple[object, ...], str]]:
    """Return (location, message) for duplicate ids and teams naming unknown people."""
    problems: list[tuple[tuple[object, ...], str]] = []
    seen: set[str] = set()
    for index, person in enumerate(people):
        if person.id in seen:
            problems.append((("people", index, "id"), f"person {person.id!r} is defined twice"))
        seen.add(person.id)
    team_ids: set[str] = set()
    for index, team in enumerate(teams):
        if team.id in team_ids:
            problems.append((("teams", index, "id"), f"team {team.id!r} is defined twice"))
        team_ids.add(team.id)
        for field in ("members", "leads"):
            for position, person_id in enumerate(getattr(team, field)):
                if person_id not in seen:
                    problems.append(
                        (("teams", index, field, position), f"unknown person {person_id!r}")
                    )
    return problems


def check_person(people: Sequence[PersonConfig], person: str, *, field: str) -> str:
    """Return `person` if configured (or no people are: a fresh install), else raise Invalid."""
    ids = [p.id for p in people]
    if not ids or person in ids:
        return person
    close = difflib.get_close_matches(person, ids, n=1)
    if close:
        hint = f" — did you mean {close[0]!r}?"
    else:  # a short list helps; a long one would bury the message
        hint = f"; use one of {', '.join(ids)}" if len(ids) <= 10 else ""
    raise Invalid(
        f"unknown person {person!r}{hint} (people are configured in warroom.yaml)",
        {"field": field},
    )
