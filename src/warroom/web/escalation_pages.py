"""The escalation policies page: each step resolved to the people it would page right now.

The resolution is the engine's own (`warroom.escalation.service.resolve`), asked with the
same on-call source the engine uses (`Runtime.on_call_at`). A step naming the incident's
service (`@service`) is resolved once per service the policy pages for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from warroom.config import WarroomConfig
from warroom.config.paging import configured_channels, policies_with_services, why_unreachable
from warroom.escalation.config import EscalationPolicy
from warroom.escalation.service import resolve
from warroom.web.page import PageRoute, SignedIn, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class StandIn:
    """What `resolve` reads of an incident: its service and commander (none yet)."""

    service: str | None
    commander: str | None = None


@dataclass(frozen=True)
class Reached:
    """Whom a step pages for one service (or for any, when it names no `@service`)."""

    service: str | None
    people: list[str]
    rooms: list[str]
    unreachable: dict[str, str]


@dataclass(frozen=True)
class StepNow:
    """One step of a policy, resolved now."""

    number: int
    after: timedelta
    targets: list[str]
    commander: bool
    resolved: list[Reached]


@dataclass(frozen=True)
class PolicyNow:
    """A policy, the services it pages for, and its steps resolved now."""

    policy: EscalationPolicy
    builtin: bool
    default: bool
    services: list[str]
    steps: list[StepNow]


def resolve_policies(config: WarroomConfig, oncall, now: datetime) -> list[PolicyNow]:  # type: ignore[no-untyped-def]
    """Resolve each step of each policy in use to people, as the engine would at `now`."""
    asked: dict[str, dict[str, list[str]]] = {}

    def on_call(schedule: str, at: datetime) -> dict[str, list[str]]:
        if schedule not in asked:  # once per schedule per page, as a tick does
            asked[schedule] = oncall(schedule, at)
        return asked[schedule]

    channels = configured_channels(config)
    out = []
    for policy_id, policy, services in policies_with_services(config):
        names = [s.id for s in services]
        steps = []
        for number, step in enumerate(policy.steps, start=1):
            per_service = any("@service" in target for target in step.notify)
            stand_ins = [StandIn(name) for name in names] if per_service else [StandIn(None)]
            resolved = []
            for stand_in in stand_ins:
                people, rooms = resolve(step.notify, stand_in, config, on_call, now)
                unreachable = {
                    person: reason
                    for person in people
                    if (reason := why_unreachable(config, person, channels)) is not None
                }
                resolved.append(Reached(stand_in.service, people, rooms, unreachable))
            steps.append(
                StepNow(
                    number=number,
                    after=step.after,
                    targets=list(step.notify),
                    commander="commander" in step.notify,
                    resolved=resolved,
                )
            )
        out.append(
            PolicyNow(
                policy=policy,
                builtin=policy_id is None,
                default=policy_id is not None and policy_id == config.notifications.default_policy,
                services=names,
                steps=steps,
            )
        )
    return out


@router.get("/escalation")
def escalation_page(request: Request, viewer: SignedIn) -> HTMLResponse:
    """Show each escalation policy with whom each step would page right now."""
    runtime = viewer.runtime
    config = runtime.config()
    now = runtime.clock.now()
    return render(
        request,
        "oncall/escalation.html",
        viewer,
        policies=resolve_policies(config, runtime.on_call_at, now),
        names={person.id: person.name for person in config.people},
    )
