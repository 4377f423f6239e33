"""Cross-checks of escalation policies and notification rules against the organisation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from warroom.escalation.config import TARGET, EscalationPolicy, NotificationRules

Problem = tuple[tuple[Any, ...], str]


@dataclass(frozen=True)
class Known:
    """What the rest of warroom.yaml defines, for escalation targets to point at."""

    schedules: dict[str, list[str] | None]  # id -> layer names; None: the layers live elsewhere
    people: set[str]
    teams: set[str]


def check_escalation(
    policies: list[EscalationPolicy],
    rules: NotificationRules,
    *,
    service_policies: list[str | None],
    known: Known,
) -> Iterator[Problem]:
    """Yield (location, message) for every reference that points at nothing."""
    ids = [p.id for p in policies]
    for index, policy_id in enumerate(ids):
        if ids.index(policy_id) != index:
            yield ("escalation_policies", index, "id"), f"policy {policy_id!r} is defined twice"
    for p_index, policy in enumerate(policies):
        for s_index, step in enumerate(policy.steps):
            for t_index, target in enumerate(step.notify):
                message = _target_problem(known, target)
                if message:
                    loc = ("escalation_policies", p_index, "steps", s_index, "notify", t_index)
                    yield loc, message
    for index, wanted in enumerate(service_policies):
        if wanted and wanted not in ids:
            yield (("services", index, "escalation"), f"unknown escalation policy {wanted!r}")
    if rules.default_policy and rules.default_policy not in ids:
        yield (
            ("notifications", "default_policy"),
            f"unknown escalation policy {rules.default_policy!r}",
        )


def _target_problem(known: Known, target: str) -> str | None:
    """Say what is wrong with one target, or None."""
    match = TARGET.match(target)
    if match is None:  # already refused by the model
        return None
    schedule, layer = match.group("schedule"), match.group("layer")
    if schedule and schedule != "@service":
        if schedule not in known.schedules:
            return f"unknown schedule {schedule!r}"
        layers = known.schedules[schedule]
        if layer and layers is not None and layer not in layers:
            return f"schedule {schedule!r} has no layer {layer!r} (layers: {', '.join(layers)})"
    person = match.group("person")
    if person and person not in known.people:
        return f"unknown person {person!r}"
    team = match.group("team")
    if team and team != "@service" and team not in known.teams:
        return f"unknown team {team!r}"
    return None
