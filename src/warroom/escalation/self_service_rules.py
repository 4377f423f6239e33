"""A person's own notification rules: the rules in force, setting and clearing their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import delete
from sqlalchemy.orm import Session

from warroom.core.errors import Invalid, NotFound
from warroom.core.validation import humane
from warroom.escalation.models import PersonalRules
from warroom.escalation.self_service import CONFIGURED, OWN, MethodView, list_methods, person_of
from warroom.organisation import CONTACT_KINDS, KIND_NAMES, RuleStep, check_rules

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


MAX_STEPS = 10
DEFAULTS = "notifications.rules"


@dataclass(frozen=True)
class EffectiveRules:
    """The rules in force for a person and where they come from.

    `steps` holds their own or warroom.yaml's; from `notifications.rules`, `by_severity`
    holds the defaults per severity instead (and `steps` is empty).
    """

    source: str  # "own", "warroom.yaml" or "notifications.rules"
    steps: list[RuleStep]
    by_severity: dict[str, list[RuleStep]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def effective_rules(session: Session, *, config: WarroomConfig, person: str) -> EffectiveRules:
    """Return the rules in force: their own, else warroom.yaml's, else the defaults."""
    configured = person_of(config, person)
    own = session.get(PersonalRules, person)
    if own is not None:
        steps = [RuleStep.model_validate(step) for step in own.steps]
        methods = list_methods(session, config=config, person=person)
        return EffectiveRules(OWN, steps, warnings=_warnings(steps, methods))
    if configured.notification_rules is not None:
        return EffectiveRules(CONFIGURED, list(configured.notification_rules))
    rules = config.notifications
    defaults = {severity: rules.rules_for(severity) for severity in config.severities}
    return EffectiveRules(DEFAULTS, [], by_severity=defaults)


def set_rules(
    session: Session, *, config: WarroomConfig, person: str, steps: list[Any], now: datetime
) -> EffectiveRules:
    """Set the person's own rules (they win over warroom.yaml and the defaults)."""
    methods = list_methods(session, config=config, person=person)
    checked = check_steps(steps, methods)
    stored = [step.model_dump(mode="json") for step in checked]
    row = session.get(PersonalRules, person)
    if row is None:
        session.add(PersonalRules(person=person, steps=stored, updated_at=now))
    else:
        row.steps, row.updated_at = stored, now
    session.flush()
    return EffectiveRules(OWN, checked, warnings=_warnings(checked, methods))


def clear_rules(session: Session, *, config: WarroomConfig, person: str) -> EffectiveRules:
    """Drop the person's own rules; return what is in force again."""
    person_of(config, person)
    gone = session.execute(delete(PersonalRules).where(PersonalRules.person == person))
    if not getattr(gone, "rowcount", 0):
        raise NotFound("you have no rules of your own to clear")
    return effective_rules(session, config=config, person=person)


def check_steps(steps: list[Any], methods: list[MethodView]) -> list[RuleStep]:
    """Return the steps as RuleSteps, or raise Invalid saying which step is wrong and why."""
    if not steps:
        raise Invalid("give at least one step (to go back to the defaults, clear your rules)")
    if len(steps) > MAX_STEPS:
        raise Invalid(f"{len(steps)} steps; at most {MAX_STEPS}")
    names = [m.name for m in methods]
    checked: list[RuleStep] = []
    for number, raw in enumerate(steps, start=1):
        try:
            step = raw if isinstance(raw, RuleStep) else RuleStep.model_validate(raw)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "step"
            raise Invalid(f"step {number}: {where} {humane(problem)}") from None
        for name in step.via:
            if name not in names and name not in CONTACT_KINDS:
                have = ", ".join(names) or "none yet"
                raise Invalid(
                    f"step {number}: {name!r} is neither one of your contact methods ({have}) "
                    f"nor a type ({', '.join(CONTACT_KINDS)})"
                )
        checked.append(step)
    try:
        return check_rules(checked)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def parse_step(text: str) -> dict[str, Any]:
    """Read one step as people type it, `2m: sms, voice`, into `{after, via}`; raise Invalid."""
    after, colon, via = text.partition(":")
    names = [name.strip() for name in via.split(",") if name.strip()]
    if not colon or not after.strip() or not names:
        raise Invalid(f"{text.strip()!r} is not a step; write it as `2m: sms, voice`")
    return {"after": after.strip(), "via": names}


def _warnings(steps: list[RuleStep], methods: list[MethodView]) -> list[str]:
    """Say which named methods cannot be used yet, and which types they have none of."""
    said: list[str] = []
    kinds = {m.kind for m in methods}
    for name in dict.fromkeys(name for step in steps for name in step.via):
        method = next((m for m in methods if m.name == name), None)
        if method is not None and not method.verified:
            said.append(f"{name} is not verified yet: pages skip it until it is")
        elif method is None and name in CONTACT_KINDS and name not in kinds:
            said.append(f"you have no {KIND_NAMES[name]} contact method: `{name}` reaches nobody")
    return said
