"""The verification window: after mitigation, linked alerts must stay resolved for a while.

Two things happen here. A linked alert firing again while the incident is mitigated returns
it to triaged (the mitigation did not hold). And the engine sweeps mitigated incidents every
few seconds: once every linked alert has stayed resolved for the window, the incident is
marked verified and, where configured (opt-in), resolves on its own — but only when its
Verification checklist is settled, because the gate a person must pass binds the engine too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from warroom.core.durations import format_duration
from warroom.detection.models import Alert
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.lifecycle import Rules
from warroom.incidents.models import Incident
from warroom.mitigation import gate

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.verification")
ACTOR = Actor(name="warroom/verification", source="engine")
SWEEP_LIMIT = 500  # incidents looked at per sweep; the rest wait for the next one


@dataclass
class SweepResult:
    """What one sweep did: incidents verified, and those of them resolved."""

    verified: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    severities: dict[int, str] = field(default_factory=dict)  # incident number -> severity


def sweep(session: Session, *, config: WarroomConfig, now: datetime, rules: Rules) -> SweepResult:
    """Mark verified every mitigated incident whose linked alerts stayed resolved for the
    window; resolve those that may resolve on their own (caller commits)."""
    settings = config.verification
    result = SweepResult()
    horizon = now - settings.window
    linked = select(Alert.id).where(Alert.incident_id == Incident.id)
    candidates = list(
        session.scalars(
            select(Incident)
            .where(
                Incident.status == "mitigated",
                Incident.verified_at.is_(None),
                Incident.mitigated_at <= horizon,
                # Only incidents with linked alerts, none firing: the others can never pass,
                # and must not fill every sweep's quota ahead of those that can.
                exists(linked),
                ~exists(linked.where(Alert.status == "firing")),
                ~exists(linked.where(Alert.ends_at > horizon)),  # resolved within the window
            )
            .order_by(Incident.mitigated_at)
            .limit(SWEEP_LIMIT)
            .with_for_update(skip_locked=True, key_share=True)  # another engine takes the rest
        )
    )
    for incident in candidates:
        _verified(session, config=config, incident=incident, now=now, result=result, rules=rules)
    return result


def _verified(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    now: datetime,
    result: SweepResult,
    rules: Rules,
) -> None:
    """Record that the window passed; resolve if allowed and the checklist is settled."""
    settings = config.verification
    incident.verified_at = now
    incident.updated_at = now
    result.verified.append(incident.number)
    result.severities[incident.number] = incident.severity
    pending = gate.unsettled(session, config=config, incident=incident)
    text = f"Linked alerts stayed resolved for {format_duration(settings.window)} after mitigation"
    auto = settings.resolves_on_its_own(incident.severity)
    if auto and pending:
        text += (
            f"; {len(pending)} verification checklist item(s) still open, so it stays "
            "mitigated until a responder settles them and resolves it"
        )
    elif not auto:
        text += "; ready to resolve"
    timeline.record(
        session,
        incident=incident,
        kind="verification_passed",
        at=now,
        actor=ACTOR.name,
        source=ACTOR.source,
        key_event=True,
        text=text,
        data={"window": format_duration(settings.window), "open_items": len(pending), "auto": auto},
    )
    if auto and not pending:
        incidents.transition(
            session,
            config=config,
            incident=incident,
            action="resolve",
            now=now,
            actor=ACTOR,
            rules=rules,
            note=f"verification window of {format_duration(settings.window)} passed (auto_resolve)",
        )
        result.resolved.append(incident.number)
        log.info("%s resolved on its own", incident.ref, extra={"incident": incident.ref})
