"""Checks across sections of warroom.yaml, and the settings that are valid but cannot work."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from warroom.auth.oidc_config import check_oidc
from warroom.config.lines import nearest_line
from warroom.config.paging import unreachable_warnings
from warroom.detection.heartbeat_config import check_heartbeats
from warroom.detection.routing import check_detection, check_routes
from warroom.escalation.checks import Known, check_escalation
from warroom.organisation import check_people
from warroom.status.config import check_status_page

if TYPE_CHECKING:
    from warroom.config.model import WarroomConfig


def cross_check(config: WarroomConfig, lines: dict[tuple[Any, ...], int], path: Path) -> list[str]:
    """Check references between sections (a type naming an unknown severity, …)."""
    problems = []
    loc: tuple[Any, ...]
    for index, item in enumerate(config.incident_types):
        if item.default_severity and item.default_severity not in config.severities:
            loc = ("incident_types", index, "default_severity")
            problems.append(
                f"{path}:{nearest_line(lines, loc)}: incident_types.{index}.default_severity: "
                f"unknown severity {item.default_severity!r}; known: "
                + ", ".join(config.severities)
            )
    for index, message in check_routes(config.routes, list(config.severities)):
        loc = ("routes", index)
        problems.append(f"{path}:{nearest_line(lines, loc)}: routes.{index}: {message}")
    for loc, message in [
        *check_people(config.people, config.teams),
        *check_oidc(config.auth.oidc, [t.id for t in config.teams]),
        *check_status_page(config.status_page, [s.id for s in config.services]),
        *check_escalation(
            config.escalation_policies,
            config.notifications,
            service_policies=[s.escalation for s in config.services],
            known=_known(config),
        ),
        *_unknown_severities(config),
        *check_heartbeats(
            config.heartbeats,
            services=[s.id for s in config.services],
            severities=list(config.severities),
            incident_types=[t.id for t in config.incident_types],
        ),
    ]:
        dotted = ".".join(str(part) for part in loc)
        problems.append(f"{path}:{nearest_line(lines, loc)}: {dotted}: {message}")
    problems += _check_schedules(config, lines, path)
    for index, service in enumerate(config.services):
        if service.schedule and not config.has_schedule(service.schedule):
            loc = ("services", index, "schedule")
            problems.append(
                f"{path}:{nearest_line(lines, loc)}: services.{index}.schedule: "
                f"unknown schedule {service.schedule!r}"
            )
        if service.team and config.team(service.team) is None:
            loc = ("services", index, "team")
            problems.append(
                f"{path}:{nearest_line(lines, loc)}: services.{index}.team: "
                f"unknown team {service.team!r}"
            )
    for message in check_detection(config.detection, list(config.severities)):
        problems.append(f"{path}:{nearest_line(lines, ('detection',))}: detection: {message}")
    for name, message in _storm_limits(config):
        loc = ("detection", "storm", "limits", name)
        problems.append(
            f"{path}:{nearest_line(lines, loc)}: detection.storm.limits.{name}: {message}"
        )
    for index, route in enumerate(config.routes):
        loc = ("routes", index)
        if route.service and config.services and config.service(route.service) is None:
            problems.append(
                f"{path}:{nearest_line(lines, (*loc, 'service'))}: routes.{index}.service: "
                f"unknown service {route.service!r}"
            )
        if route.heartbeat and config.heartbeat(route.heartbeat) is None:
            known = ", ".join(h.id for h in config.heartbeats) or "none (add it under heartbeats:)"
            problems.append(
                f"{path}:{nearest_line(lines, (*loc, 'heartbeat'))}: routes.{index}.heartbeat: "
                f"unknown heartbeat {route.heartbeat!r}; known: {known}"
            )
        if route.incident_type and config.incident_type(route.incident_type) is None:
            problems.append(
                f"{path}:{nearest_line(lines, (*loc, 'incident_type'))}: "
                f"routes.{index}.incident_type: unknown incident type {route.incident_type!r}"
            )
    return problems


def _storm_limits(config: WarroomConfig) -> list[tuple[str, str]]:
    """Return (key, message) for storm limits naming no service (or policy) of this config."""
    storm = config.detection.storm
    if storm.by == "policy":
        known = {p.id for p in config.escalation_policies} | {config.escalation_policy(None).id}
        kind = "escalation policy"
    elif config.services:
        known, kind = {s.id for s in config.services}, "service"
    else:
        return []  # no services configured: alerts may name any service
    return [
        (name, f"unknown {kind} {name!r}; known: {', '.join(sorted(known))}")
        for name in storm.limits
        if name not in known
    ]


def config_warnings(config: WarroomConfig) -> list[str]:
    """Return settings that are valid but cannot work as meant (what `config check` warns of)."""
    found = []
    integrations, rules = config.integrations, config.notifications
    if rules.executives and integrations.smtp is None:
        found.append(
            "notifications.executives is set but integrations.smtp is not: executive "
            "summaries are not sent"
        )
    slack = integrations.slack
    ways = {
        "chat": slack is not None and slack.bot_token is not None,  # else Slack is intake-only
        "email": integrations.smtp is not None,
    }
    usable = [way for way in rules.page_via if ways.get(way, True)]
    if rules.page_via and not usable:
        found.append(
            f"notifications.page_via is {', '.join(rules.page_via)} but neither "
            "integrations.slack.bot_token nor integrations.smtp is configured: pages reach no one "
            "(the escalation still runs and shows on each incident)"
        )
    return (
        found
        + _phone_warnings(config)
        + _access_team_warnings(config)
        + _lease_warnings(config)
        + unreachable_warnings(config)
    )


def _lease_warnings(config: WarroomConfig) -> list[str]:
    """Warn of an integration whose timeout lets a hung send outlive its claim.

    The sender starts a send only if it can end within half its lease (notify/sender.py); a
    send that hangs longer than the lease is taken over by another engine and sent twice.
    """
    lease = config.notifications.claim_lease.total_seconds()
    found = []
    for name in type(config.integrations).model_fields:
        timeout = getattr(getattr(config.integrations, name), "timeout", None)
        if isinstance(timeout, int | float) and timeout > lease / 2:
            found.append(
                f"integrations.{name}.timeout is {timeout:g}s, more than half of "
                f"notifications.claim_lease ({lease:g}s): a send that hangs that long outlives "
                "its claim, and another engine may send it again; lower the timeout or "
                "lengthen the lease"
            )
    return found


def _phone_warnings(config: WarroomConfig) -> list[str]:
    """Warn of Twilio set up in a way that pages cannot work as meant."""
    twilio = config.integrations.twilio
    if twilio is None:
        return []
    found = []
    if not config.notifications.base_url:
        found.append(
            "integrations.twilio is set but notifications.base_url is not: Twilio cannot "
            "report deliveries nor pass on replies and key presses, and pages carry no "
            "acknowledge link"
        )
    if twilio.from_ is None:
        found.append(
            "integrations.twilio has no `from` number: text messages go through the messaging "
            "service, but voice calls cannot be placed"
        )
    return found


def _access_team_warnings(config: WarroomConfig) -> list[str]:
    """Warn of access teams written in warroom.yaml that are not under `teams:`.

    The built-in `security` type's team is left alone: without a `security` team only admins
    and participants see security incidents, which is the safe default, not a mistake.
    """
    if not config.teams or "incident_types" not in config.model_fields_set:
        return []
    known = {team.id for team in config.teams}
    return [
        f"incident type {kind.id!r} lets team {team!r} see its restricted incidents, but "
        "there is no such team under teams: only admins and participants will see them"
        for kind in config.incident_types
        for team in kind.access_teams
        if team not in known
    ]


def _check_schedules(
    config: WarroomConfig, lines: dict[tuple[Any, ...], int], path: Path
) -> list[str]:
    """Every rotation participant must be a configured person; schedule ids are unique."""
    problems = []
    known = {p.id for p in config.people}
    seen: set[str] = set()
    for s_index, schedule in enumerate(config.schedules):
        if schedule.id in seen:
            loc: tuple[Any, ...] = ("schedules", s_index, "id")
            problems.append(
                f"{path}:{nearest_line(lines, loc)}: schedules.{s_index}.id: "
                f"schedule {schedule.id!r} is defined twice"
            )
        seen.add(schedule.id)
        for l_index, layer in enumerate(schedule.layers):
            for p_index, person in enumerate(layer.rotation.participants):
                if person not in known:
                    loc = (
                        "schedules",
                        s_index,
                        "layers",
                        l_index,
                        "rotation",
                        "participants",
                        p_index,
                    )
                    where = ".".join(str(part) for part in loc)
                    problems.append(
                        f"{path}:{nearest_line(lines, loc)}: {where}: "
                        f"unknown person {person!r} (add it under people:)"
                    )
    source = config.integrations.pagerduty_oncall
    if source is not None:
        base = ("integrations", "pagerduty_oncall")
        for pd_user, person in source.people.items():
            if person not in known:
                loc = (*base, "people", pd_user)
                problems.append(
                    f"{path}:{nearest_line(lines, loc)}: "
                    f"integrations.pagerduty_oncall.people.{pd_user}: "
                    f"unknown person {person!r}"
                )
        for schedule_id in source.schedules:
            if schedule_id in seen:
                loc = (*base, "schedules", schedule_id)
                problems.append(
                    f"{path}:{nearest_line(lines, loc)}: "
                    f"integrations.pagerduty_oncall.schedules.{schedule_id}: "
                    "also defined under schedules:; keep one"
                )
    participants = config.drills.participants
    for index, person in enumerate(participants if isinstance(participants, list) else []):
        if person not in known:
            loc = ("drills", "participants", index)
            problems.append(
                f"{path}:{nearest_line(lines, loc)}: drills.participants.{index}: "
                f"unknown person {person!r} (add it under people:)"
            )
    return problems


def _known(config: WarroomConfig) -> Known:
    """Return what escalation targets may name: schedules (with layers), people, teams."""
    schedules: dict[str, list[str] | None] = dict.fromkeys(config.pagerduty_schedules())
    schedules.update({s.id: [layer.name for layer in s.layers] for s in config.schedules})
    return Known(
        schedules=schedules,
        people={p.id for p in config.people},
        teams={t.id for t in config.teams},
    )


def _unknown_severities(config: WarroomConfig) -> list[tuple[tuple[Any, ...], str]]:
    """Every list of severities in another section must name configured severities."""
    known = list(config.severities)
    verification, postmortem = config.verification, config.postmortem
    lists: list[tuple[tuple[Any, ...], list[str], bool]] = [
        (
            ("verification", "auto_resolve_severities"),
            verification.auto_resolve_severities or [],
            True,
        ),
        (("postmortem", "required_severities"), postmortem.required_severities or [], True),
    ]
    for name in ("zoom", "pagerduty_events", "statuspage"):
        chosen = getattr(getattr(config.integrations, name), "severities", None) or []
        lists.append((("integrations", name, "severities"), chosen, False))
    # The default cadence names SEV-1..SEV-3; only a cadence someone wrote is checked.
    rules = config.notifications
    cadence = rules.cadence if "cadence" in rules.model_fields_set else {}
    found: list[tuple[tuple[Any, ...], str]] = [
        (("notifications", "cadence", severity), f"unknown severity {severity!r}")
        for severity in cadence
        if severity not in known
    ]
    found += [
        (("notifications", "rules", name), f"unknown severity {name!r}; known: {', '.join(known)}")
        for name in rules.rules
        if name != "default" and name not in known
    ]
    for loc, values, list_known in lists:
        for index, severity in enumerate(values):
            if severity not in known:
                hint = f"; known: {', '.join(known)}" if list_known else ""
                found.append(((*loc, index), f"unknown severity {severity!r}{hint}"))
    return found
