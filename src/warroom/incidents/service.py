"""Incident service: declare, change, move through the lifecycle, note, find and list."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from warroom.core.errors import Invalid, NotFound
from warroom.core.ids import incident_number
from warroom.core.text import drill_title
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.declaring import Declaration, declare_many
from warroom.incidents.fields import check_fields, higher_severity
from warroom.incidents.held import Held, release
from warroom.incidents.lifecycle import Move, Rules
from warroom.incidents.models import Incident, TimelineEvent
from warroom.incidents.states import ACTION_TARGET, check_action, check_not_closed

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

EDITABLE_FIELDS = (
    "title",
    "summary",
    "severity",
    "incident_type",
    "service",
    "commander",
    "impact",
    "scope",
    "priority",
    "visibility",
    "started_at",
    "owner",
    "module",
)


_BY_NUMBER = select(Incident).where(Incident.number == bindparam("number"))
# FOR NO KEY UPDATE on PostgreSQL: writers of this incident queue behind each other, while
# rows that only point at it (timeline events, grants: their foreign-key check takes KEY
# SHARE) are still written. A plain FOR UPDATE deadlocked an acknowledge against the
# escalation engine, which holds its escalation row and inserts events.
_BY_NUMBER_FOR_UPDATE = _BY_NUMBER.with_for_update(key_share=True)


def parse_ref(ref: str) -> int:
    """Turn `42`, `INC-42` or `inc-42` into 42, or raise NotFound."""
    number = incident_number(ref)
    if number is None:
        raise NotFound(f"no incident {ref!r}: use a number such as 42 or INC-42")
    return number


def get(session: Session, ref: str | int, *, for_update: bool = False) -> Incident:
    """Return the incident with this number, or raise NotFound."""
    number = ref if isinstance(ref, int) else parse_ref(ref)
    stmt = _BY_NUMBER_FOR_UPDATE if for_update else _BY_NUMBER
    incident = session.scalars(stmt, {"number": number}).one_or_none()
    if incident is None:
        raise NotFound(f"no incident INC-{number}")
    return incident


def declare(
    session: Session,
    *,
    config: WarroomConfig,
    now: datetime,
    actor: Actor,
    title: str,
    severity: str | None = None,
    summary: str = "",
    incident_type: str | None = None,
    service: str | None = None,
    commander: str | None = None,
    commander_reason: str | None = None,
    visibility: str | None = None,
    started_at: datetime | None = None,
    runbook_template: str | None = None,
    checklist: list[tuple[str, str]] | None = None,
    owner: str | None = None,
    module: str | None = None,
    held: Held | None = None,
    drill_id: int | None = None,
) -> Incident:
    """Open a new incident in `detected`, with its checklist and first timeline event.

    A drill's incident (`drill_id`) is titled `[DRILL] …`; its slug keeps the plain words.
    """
    declaration = Declaration(
        actor=actor,
        title=title,
        severity=severity,
        summary=summary,
        incident_type=incident_type,
        service=service,
        commander=commander,
        commander_reason=commander_reason,
        visibility=visibility,
        started_at=started_at,
        runbook_template=runbook_template,
        checklist=checklist,
        owner=owner,
        module=module,
        held=held,
        drill_id=drill_id,
    )
    return declare_many(session, config=config, now=now, declarations=[declaration])[0]


def update(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    now: datetime,
    actor: Actor,
    changes: dict[str, Any],
    rules: Rules,
    reason: str | None = None,
) -> list[str]:
    """Apply field changes, writing a timeline event for each; return the changed names.

    A new commander, while one is in charge, is a handoff (`rules.command`); a new severity
    is followed by the phases' rules (a postmortem becomes required, say).
    """
    actor.require("responder", f"change {incident.ref}")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}", {"fields": sorted(unknown)})
    check_not_closed(incident.ref, incident.status, "its fields are frozen")
    changes = check_fields(config, {k: v for k, v in changes.items() if v is not None})
    if incident.drill_id is not None and isinstance(changes.get("title"), str):
        changes["title"] = drill_title(changes["title"])  # a drill stays marked as one
    if "started_at" in changes and changes["started_at"] > incident.detected_at:
        raise Invalid("started_at must not be after detected_at", {"field": "started_at"})
    changed = []
    for field in EDITABLE_FIELDS:
        if field not in changes:
            continue
        old, new = getattr(incident, field), changes[field]
        if old == new:
            continue
        if field == "commander" and old is not None:
            # An IC handoff: the new IC must accept; until then the current IC stays in charge.
            rules.command.propose(
                session, incident=incident, person=new, now=now, actor=actor, reason=reason
            )
            continue
        setattr(incident, field, new)
        changed.append(field)
        _record_change(session, incident, field, old, new, now, actor, reason)
    if changed:
        incident.updated_at = now
    if "severity" in changed:
        incident.peak_severity = higher_severity(incident.peak_severity, incident.severity)
        for rule in rules.lifecycle:
            rule.severity_changed(session, config=config, incident=incident)
    return changed


def _record_change(
    session: Session,
    incident: Incident,
    field: str,
    old: Any,
    new: Any,
    now: datetime,
    actor: Actor,
    reason: str | None,
) -> None:
    """Write the timeline event for one changed field."""
    label = field.replace("_", " ")
    if field == "severity":
        kind, text = "severity_changed", f"Severity {old} → {new}"
    elif field == "commander":
        kind, text = "commander_changed", f"{new} is Incident Commander (was {old or 'nobody'})"
    elif field in ("summary", "impact", "scope"):
        kind, text = "field_changed", f"{label.capitalize()} updated"
    else:
        kind, text = "field_changed", f"{label.capitalize()}: {_show(old)} → {_show(new)}"
    if reason:
        text += f" — {reason}"
    timeline.record(
        session,
        incident=incident,
        kind=kind,
        at=now,
        actor=actor.name,
        source=actor.source,
        text=text,
        data={"field": field, "from": _jsonable(old), "to": _jsonable(new), "reason": reason},
        # Who may see it and which runbook applies shape the response: the postmortem's
        # skeleton, like severity and commander changes.
        key_event=True if field in ("visibility", "incident_type") else None,
    )


def _show(value: Any) -> str:
    return "none" if value is None else str(value)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def acknowledge(
    session: Session,
    *,
    incident: Incident,
    now: datetime,
    actor: Actor,
    parent: Incident | None = None,
) -> bool:
    """Record the acknowledgement milestone; return False if it was already acknowledged.

    An alert storm's parent answers for its members: acknowledging it acknowledges every
    member still waiting (`parent` is then the storm, for the members' timelines).
    """
    actor.require("responder", f"acknowledge {incident.ref}")
    check_action(incident.ref, incident.status, "acknowledge")
    if incident.acknowledged_at is not None:
        return False
    incident.acknowledged_at = now
    incident.acknowledged_by = actor.name
    incident.updated_at = now
    who = actor.name or "someone"
    timeline.record(
        session,
        incident=incident,
        kind="acknowledged",
        at=now,
        actor=actor.name,
        source=actor.source,
        text=f"Acknowledged by {who}" + (f" with alert storm {parent.ref}" if parent else ""),
        data={"parent": parent.number} if parent else None,
    )
    members = session.scalars(
        select(Incident).where(
            Incident.parent_number == incident.number,
            Incident.acknowledged_at.is_(None),
            Incident.status == "detected",
        )
    ).all()
    for member in members:
        acknowledge(session, incident=member, now=now, actor=actor, parent=incident)
    return True


def transition(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    action: str,
    now: datetime,
    actor: Actor,
    rules: Rules,
    note: str | None = None,
    fields: dict[str, Any] | None = None,
    skip_verification: str | None = None,
    false_alarm: str | None = None,
    waive_postmortem: str | None = None,
) -> Incident:
    """Apply a lifecycle action (triage, mitigate, resolve, close, reopen) with its rules.

    Every rule of `rules.lifecycle` checks the move first (triaging needs the assessment;
    resolving needs the Verification items settled, or `skip_verification` skips the open
    ones with that reason; closing needs a required postmortem done, or an admin's
    `waive_postmortem` reason) and follows it after. `false_alarm` ends the incident as one:
    the reason skips verification and no postmortem is owed.
    """
    actor.require("responder", f"{action} {incident.ref}")
    if action not in ACTION_TARGET:
        raise Invalid(f"unknown action {action!r}; use one of {', '.join(ACTION_TARGET)}")
    if false_alarm is not None and action not in ("resolve", "close"):
        raise Invalid("false_alarm ends an incident: use it with resolve or close")
    if waive_postmortem is not None and action != "close":
        raise Invalid("waive_postmortem is for close: the postmortem is owed when it closes")
    target = check_action(incident.ref, incident.status, action)
    if false_alarm is not None:
        skip_verification = skip_verification or f"false alarm: {false_alarm}"
        incident.outcome, incident.outcome_reason = "false_alarm", false_alarm
    if fields:
        update(
            session,
            config=config,
            incident=incident,
            now=now,
            actor=actor,
            changes=fields,
            rules=rules,
        )
    move = Move(
        incident=incident,
        action=action,
        previous=incident.status,
        target=target,
        now=now,
        actor=actor,
        skip_verification=skip_verification,
        false_alarm=false_alarm,
        waive_postmortem=waive_postmortem,
    )
    for rule in rules.lifecycle:
        rule.check(session, config=config, move=move)
    previous = incident.status
    incident.status = target
    incident.updated_at = now
    if action == "reopen":
        incident.mitigated_at = None
        incident.verified_at = None
        incident.resolved_at = None
        # Reopened, it was not a false alarm after all (the timeline keeps what was said).
        incident.outcome, incident.outcome_reason = None, None
        kind, text = "reopened", f"Reopened (was {previous})"
    else:
        _set_milestones(incident, target, now)
        kind, text = target, f"{target.capitalize()} (was {previous})"
    # A viewer's report pages once a responder triages it (incidents/held.py).
    released = target == "triaged" and release(incident)
    if released:
        text += f"; paging released at {incident.severity}"
    if false_alarm is not None:
        text += f" as a false alarm: {false_alarm}"
    if note:
        text += f": {note}" if false_alarm is None else f" ({note})"
    timeline.record(
        session,
        incident=incident,
        kind=kind,
        at=now,
        actor=actor.name,
        source=actor.source,
        text=text,
        data={"from": previous, "to": target, "note": note, "false_alarm": false_alarm}
        | ({"released": True} if released else {}),
        key_event=True if false_alarm is not None else None,
    )
    for rule in rules.lifecycle:
        rule.moved(session, config=config, move=move)
    return incident


def _set_milestones(incident: Incident, target: str, now: datetime) -> None:
    """Stamp the target's milestone; a forward skip past mitigation/resolution stamps those too."""
    if target == "triaged":
        incident.triaged_at = now
    if target in ("mitigated", "resolved", "closed") and incident.mitigated_at is None:
        incident.mitigated_at = now
    if target in ("resolved", "closed") and incident.resolved_at is None:
        incident.resolved_at = now
    if target == "closed":
        incident.closed_at = now


def add_note(
    session: Session,
    *,
    incident: Incident,
    now: datetime,
    actor: Actor,
    text: str,
    at: datetime | None = None,
    key_event: bool = False,
) -> TimelineEvent:
    """Add a free-text note to the timeline (notes may be backdated, never future-dated)."""
    actor.require("responder", f"add a note to {incident.ref}")
    check_not_closed(incident.ref, incident.status, "its timeline takes no more notes")
    when = at or now
    if when > now:
        raise Invalid("a note cannot be dated in the future", {"field": "at"})
    incident.updated_at = now
    return timeline.record(
        session,
        incident=incident,
        kind="note",
        at=when,
        actor=actor.name,
        source=actor.source,
        text=text,
        key_event=key_event,
    )


def count_notes(session: Session, *, incident: Incident, up_to: int) -> int:
    """Return how many notes the incident has up to the event id `up_to` (included)."""
    stmt = select(func.count()).where(
        TimelineEvent.incident_id == incident.id,
        TimelineEvent.kind == "note",
        TimelineEvent.id <= up_to,
    )
    return int(session.scalar(stmt) or 0)
