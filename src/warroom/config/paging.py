"""Who an escalation policy can page but nothing configured can reach (`config check` warns)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from warroom.escalation.config import TARGET, EscalationPolicy, builtin_policy
from warroom.escalation.contacts import Method, plan, why_unreached

if TYPE_CHECKING:
    from warroom.config.model import WarroomConfig
    from warroom.incidents.config import ServiceConfig


def unreachable_warnings(config: WarroomConfig) -> list[str]:
    """Return a line per person (and chat channel) a policy can page that no page can reach.

    A fresh install has no Slack or SMTP yet, so these are warnings, not errors. Who a
    PagerDuty schedule or `commander` names is known only when a step runs; the incident's
    timeline says then whom a step could not reach.
    """
    if not any(severity.page for severity in config.severities.values()):
        return []  # nothing starts an escalation
    channels = configured_channels(config)
    people: dict[str, list[str | None]] = {}
    rooms: dict[str, list[str | None]] = {}
    for name, policy, services in policies_with_services(config):
        found, posted = _named(config, policy, services)
        for person in found:
            people.setdefault(person, []).append(name)
        for room in posted:
            rooms.setdefault(room, []).append(name)
    lines = []
    for person_id, policies in people.items():
        reason = why_unreachable(config, person_id, channels)
        if reason is not None:
            lines.append(
                f"{person_id} can be paged by {_listed(policies)} but no channel can reach them "
                f"({reason})"
            )
    if "chat" not in channels:
        for room, policies in rooms.items():
            lines.append(
                f"{_listed(policies)} posts to {room} but integrations.slack.bot_token is not "
                "set: those posts are skipped"
            )
    return lines


def configured_channels(config: WarroomConfig) -> set[str]:
    """Return the paging ways warroom.yaml sets up (as the engine's adapters would)."""
    integrations = config.integrations
    channels = set()
    if integrations.slack is not None and integrations.slack.bot_token is not None:
        channels.add("chat")
    if integrations.smtp is not None:
        channels.add("email")
    if integrations.twilio is not None:
        channels |= {"sms", "voice"}
    if integrations.push is not None and integrations.push.enabled:
        channels.add("push")
    return channels


def why_unreachable(config: WarroomConfig, person_id: str, channels: set[str]) -> str | None:
    """Say why a person's rules (for some paging severity) reach them by nothing, or None.

    Only warroom.yaml is read: methods and rules people add through the API are theirs to
    change at any time, and the timeline names whom a step could not reach.
    """
    person = config.person(person_id)
    if person is None:
        return "not a person under people: in warroom.yaml"
    methods = [Method(m.id, m.type, m.to) for m in person.methods()]
    for name, severity in config.severities.items():
        if not severity.page:
            continue
        steps = person.notification_rules or config.notifications.rules_for(name)
        if not plan(steps, methods, channels):
            reason = why_unreached(steps, methods, channels)
            own = person.notification_rules or name not in config.notifications.rules
            return reason if own else f"{name}: {reason}"
    return None


def policies_with_services(
    config: WarroomConfig,
) -> list[tuple[str | None, EscalationPolicy, list[ServiceConfig]]]:
    """Return (id, policy, the services it pages for) of each policy; id None: the built-in."""
    default = config.notifications.default_policy
    unassigned = [s for s in config.services if not s.escalation]
    out: list[tuple[str | None, EscalationPolicy, list[ServiceConfig]]] = [
        (
            policy.id,
            policy,
            [s for s in config.services if s.escalation == policy.id]
            + (unassigned if policy.id == default else []),
        )
        for policy in config.escalation_policies
    ]
    if default is None:  # the built-in policy pages for services that name none
        out.append((None, builtin_policy(), unassigned))
    return out


def _named(
    config: WarroomConfig, policy: EscalationPolicy, services: list[ServiceConfig]
) -> tuple[list[str], list[str]]:
    """Return the people and chat channels a policy's steps can name (in order, once each)."""
    people: list[str] = []
    rooms: list[str] = []
    for step in policy.steps:
        for target in step.notify:
            match = TARGET.match(target)
            if match is None:
                continue
            found: list[str] = []
            if match.group("schedule"):
                schedule, layer = match.group("schedule"), match.group("layer")
                ids = [s.schedule for s in services] if schedule == "@service" else [schedule]
                found = [p for i in ids if i for p in _on_rota(config, i, layer)]
            elif match.group("person"):
                found = [match.group("person")]
            elif match.group("team"):
                team_id, part = match.group("team"), match.group("part")
                ids = [s.team for s in services] if team_id == "@service" else [team_id]
                for team in (config.team(i) for i in ids if i):
                    if team is not None:
                        found += team.leads if part == "leads" else team.members
            elif match.group("channel"):
                room = match.group("channel")
                rooms.append(room if room.startswith("#") else f"#{room}")
            people += [p for p in found if p not in people]
    return people, list(dict.fromkeys(rooms))


def _on_rota(config: WarroomConfig, schedule_id: str, layer: str | None) -> list[str]:
    """Return the participants of a schedule's layer (every layer without one)."""
    schedule = next((s for s in config.schedules if s.id == schedule_id), None)
    if schedule is None:  # kept in PagerDuty: who is on call is known only when asked
        return []
    return [
        person
        for found in schedule.layers
        if layer is None or found.name == layer
        for person in found.rotation.participants
    ]


def _listed(policies: list[str | None]) -> str:
    """Return `escalation policy 'a'`, `escalation policies 'a', 'b'` (None: the built-in)."""
    named = [repr(p) for p in policies if p is not None]
    if not named:
        return "the built-in escalation policy"
    listed = ", ".join(named) + (" and the built-in one" if None in policies else "")
    return f"escalation {'policy' if len(policies) == 1 else 'policies'} {listed}"
