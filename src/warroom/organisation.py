"""The people and teams of `warroom.yaml`, and the checks that tie them to services."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from warroom.core.durations import Duration
from warroom.core.errors import Invalid

PERSON_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
ContactKind = Literal["chat", "email", "sms", "voice", "push"]
CONTACT_KINDS: tuple[str, ...] = get_args(ContactKind)
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PUSH_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
# What each kind of contact method is called for people, and what its address is.
KIND_NAMES = {"chat": "Slack", "email": "e-mail", "sms": "SMS", "voice": "voice", "push": "push"}
ADDRESS_NAMES = {
    "chat": "Slack user id (U…)",
    "email": "e-mail address",
    "sms": "phone number in +E.164 form",
    "voice": "phone number in +E.164 form",
    "push": "apprise URL (ntfys://host/topic, pover://…)",
}


def check_address(kind: str, address: str) -> str:
    """Return the address if it suits the kind of contact method, else raise ValueError."""
    pattern = {"chat": SLACK_ID, "email": EMAIL, "sms": E164, "voice": E164, "push": PUSH_URL}
    if kind not in pattern:
        raise ValueError(f"unknown contact method type {kind!r}; use {', '.join(CONTACT_KINDS)}")
    compact = address.replace(" ", "") if kind in ("sms", "voice") else address.strip()
    if not pattern[kind].match(compact):
        raise ValueError(f"{address!r} is not a {ADDRESS_NAMES[kind]}")
    return compact


class ContactMethodConfig(BaseModel):
    """One way to reach a person: `{id: mobile, type: sms, to: "+4915112345678"}`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$")
    type: ContactKind
    to: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _address(self) -> ContactMethodConfig:
        self.to = check_address(self.type, self.to)
        return self


class RuleStep(BaseModel):
    """One step of personal notification rules: after a delay, page through these methods.

    `via` names contact methods by id (`mobile`) or by type (`sms`: every SMS method).
    """

    model_config = ConfigDict(extra="forbid")

    after: Duration = timedelta(0)
    via: list[str] = Field(min_length=1)


def check_rules(steps: list[RuleStep]) -> list[RuleStep]:
    """Return the steps if they are in order of `after`, else raise ValueError."""
    afters = [step.after for step in steps]
    if afters != sorted(afters):
        raise ValueError("notification rule steps must be in order of `after`")
    if any(after > timedelta(hours=24) for after in afters):
        raise ValueError("a notification rule step waits at most 24h")
    return steps


class PersonConfig(BaseModel):
    """Someone who can be on call, lead a team or command an incident."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=PERSON_ID)
    name: str
    email: EmailStr | None = None
    slack: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,}$")
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9 ]{6,20}$")
    timezone: str = "UTC"
    contact_methods: list[ContactMethodConfig] = Field(default_factory=list)
    # None: the defaults of `notifications.rules` for the incident's severity.
    notification_rules: list[RuleStep] | None = None

    @field_validator("notification_rules")
    @classmethod
    def _rules(cls, value: list[RuleStep] | None) -> list[RuleStep] | None:
        return check_rules(value) if value is not None else None

    @model_validator(mode="after")
    def _methods(self) -> PersonConfig:
        ids = [method.id for method in self.methods()]
        doubled = sorted({i for i in ids if ids.count(i) > 1})
        if doubled:
            raise ValueError(
                f"contact method id {doubled[0]!r} is used twice (chat, email, sms and voice "
                "stand for slack:, email: and phone:)"
            )
        known = set(ids) | set(CONTACT_KINDS)
        for step in self.notification_rules or []:
            for name in step.via:
                if name not in known:
                    raise ValueError(
                        f"notification_rules: {name!r} is neither a contact method of "
                        f"{self.id} nor a type ({', '.join(CONTACT_KINDS)})"
                    )
        return self

    def methods(self) -> list[ContactMethodConfig]:
        """Return every configured contact method, `slack`, `email` and `phone` included."""
        implicit = []
        if self.slack:
            implicit.append(ContactMethodConfig(id="chat", type="chat", to=self.slack))
        if self.email:
            implicit.append(ContactMethodConfig(id="email", type="email", to=str(self.email)))
        if self.phone:
            implicit.append(ContactMethodConfig(id="sms", type="sms", to=self.phone))
            implicit.append(ContactMethodConfig(id="voice", type="voice", to=self.phone))
        return implicit + list(self.contact_methods)

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
