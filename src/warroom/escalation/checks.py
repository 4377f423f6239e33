"""Cross-checks of escalation policies and notification rules against the organisation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from warroom.escalation.config import TARGET

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

Problem = tuple[tuple[Any, ...], str]


def check_escalation(config: WarroomConfig) -> Iterator[Problem]:
    """Yield (location, message) for every reference that points at nothing."""
    ids = [p.id for p in config.escalation_policies]
    for index, policy_id in enumerate(ids):
        if ids.index(policy_id) != index:
            yield ("escalation_policies", index, "id"), f"policy {policy_id!r} is defined twice"
    for p_index, policy in enumerate(config.escalation_policies):
        for s_index, step in enumerate(policy.steps):
            for t_index, target in enumerate(step.notify):
                message = _target_problem(config, target)
                if message:
                    loc = ("escalation_policies", p_index, "steps", s_index, "notify", t_index)
                    yield loc, message
    for index, service in enumerate(config.services):
        if service.escalation and service.escalation not in ids:
            yield (
                ("services", index, "escalation"),
                f"unknown escalation policy {service.escalation!r}",
            )
    rules = config.notifications
    if rules.default_policy and rules.default_policy not in ids:
        yield (
            ("notifications", "default_policy"),
            f"unknown escalation policy {rules.default_policy!r}",
        )
    integrations = config.integrations
    for name in ("zoom", "pagerduty_events", "statuspage"):
        block = getattr(integrations, name)
        for index, severity in enumerate(getattr(block, "severities", None) or []):
            if severity not in config.severities:
                yield ("integrations", name, "severities", index), f"unknown severity {severity!r}"
    # The default cadence names SEV-1..SEV-3; only a cadence someone wrote is checked.
    cadence = rules.cadence if "cadence" in rules.model_fields_set else {}
    for severity in cadence:
        if severity not in config.severities:
            yield ("notifications", "cadence", severity), f"unknown severity {severity!r}"


def _target_problem(config: WarroomConfig, target: str) -> str | None:
    """Say what is wrong with one target, or None."""
    match = TARGET.match(target)
    if match is None:  # already refused by the model
        return None
    schedule, layer = match.group("schedule"), match.group("layer")
    if schedule and schedule != "@service":
        if not config.has_schedule(schedule):
            return f"unknown schedule {schedule!r}"
        local = next((s for s in config.schedules if s.id == schedule), None)
        if layer and local is not None and layer not in [x.name for x in local.layers]:
            names = ", ".join(x.name for x in local.layers)
            return f"schedule {schedule!r} has no layer {layer!r} (layers: {names})"
    person = match.group("person")
    if person and config.person(person) is None:
        return f"unknown person {person!r}"
    team = match.group("team")
    if team and team != "@service" and config.team(team) is None:
        return f"unknown team {team!r}"
    return None
