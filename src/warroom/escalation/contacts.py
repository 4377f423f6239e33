"""Whom a page can reach and how: contact methods (warroom.yaml and the API) and rules.

A person's methods are those in warroom.yaml (`slack`, `email`, `phone`, `contact_methods`:
trusted, the file is the admins') and those they added through the API (usable once the
code sent to them was confirmed). Their rules are their own (API, then warroom.yaml) or the
defaults of `notifications.rules` for the incident's severity.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.escalation import reach
from warroom.escalation.models import ContactMethod, PersonalRules
from warroom.organisation import KIND_NAMES, RuleStep

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

# Which adapter each kind of contact method needs, in the words of warroom.yaml.
NEEDS = {
    "chat": "integrations.slack.bot_token",
    "email": "integrations.smtp",
    "sms": "integrations.twilio",
    "voice": "integrations.twilio (with `from`)",
    "push": "integrations.push",
}


@dataclass(frozen=True)
class Method:
    """One way to reach a person: its name (what rules' `via` names), kind and address."""

    name: str
    kind: str  # chat | email | sms | voice | push
    address: str
    verified: bool = True
    source: str = "warroom.yaml"  # or "api"
    id: int | None = None  # the row of a method added through the API

    def json(self) -> dict[str, str]:
        """Return what a page run keeps of the method (its snapshot)."""
        return {"name": self.name, "kind": self.kind, "address": self.address}


class Directory:
    """Every person's methods and rules, read once (per engine tick or request)."""

    def __init__(self, session: Session, config: WarroomConfig) -> None:
        self.config = config
        self._rows: dict[str, list[Method]] = {}
        for row in session.scalars(select(ContactMethod).order_by(ContactMethod.id)):
            self._rows.setdefault(row.person, []).append(from_row(row))
        self._rules = {
            row.person: [RuleStep.model_validate(step) for step in row.steps]
            for row in session.scalars(select(PersonalRules))
        }

    def methods(self, person_id: str) -> list[Method]:
        """Return the person's methods, verified or not: warroom.yaml's first."""
        person = self.config.person(person_id)
        configured = [
            Method(m.id, m.type, m.to) for m in (person.methods() if person is not None else [])
        ]
        return configured + self._rows.get(person_id, [])

    def rules(self, person_id: str, severity: str) -> tuple[list[RuleStep], str]:
        """Return the person's rules for a severity, and where they come from."""
        if person_id in self._rules:
            return self._rules[person_id], "their own (API)"
        person = self.config.person(person_id)
        if person is not None and person.notification_rules is not None:
            return person.notification_rules, "warroom.yaml"
        return self.config.notifications.rules_for(severity), "notifications.rules"


def from_row(row: ContactMethod) -> Method:
    """Return a method added through the API."""
    return Method(row.name, row.kind, row.address, row.verified_at is not None, "api", row.id)


def plan(
    steps: list[RuleStep], methods: list[Method], channels: Collection[str]
) -> list[dict[str, Any]]:
    """Return the rules as a page run keeps them: seconds after the start, methods to use.

    `via` names a method or a kind; unverified methods and kinds without an adapter drop
    out, and so does a step left with nothing to send (its delay moves on to the next).
    """
    planned: list[dict[str, Any]] = []
    for step in steps:
        chosen: list[Method] = []
        for name in step.via:
            for method in methods:
                named = method.name == name or method.kind == name
                if named and method.verified and method.kind in channels and method not in chosen:
                    chosen.append(method)
        if chosen:
            after = int(step.after.total_seconds())
            planned.append({"after": after, "methods": [m.json() for m in chosen]})
    return planned


def why_unreached(steps: list[RuleStep], methods: list[Method], channels: Collection[str]) -> str:
    """Say why rules reach nobody: which kinds they name, and what each lacks."""
    kinds: list[str] = []
    for name in (name for step in steps for name in step.via):
        kind = name if name in KIND_NAMES else next((m.kind for m in methods if m.name == name), "")
        if kind and kind not in kinds:
            kinds.append(kind)
    if not kinds:
        return "their notification rules name no contact method they have"
    named = {name for step in steps for name in step.via}
    waiting = [
        m.name
        for m in methods
        if (m.name in named or m.kind in named) and not m.verified and m.kind in channels
    ]
    have = {m.kind for m in methods if m.verified}
    said = reach.reasons(kinds, have, channels)
    if waiting:
        said = "; ".join(filter(None, [f"{', '.join(waiting)} not verified yet", said]))
    return said or "none of their contact methods can be used"


def rule_after(planned: list[dict[str, Any]], position: int) -> timedelta | None:
    """Return how long after the start the rule at `position` runs (None: there is none)."""
    if position >= len(planned):
        return None
    return timedelta(seconds=int(planned[position]["after"]))
