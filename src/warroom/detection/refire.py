"""An alert firing again on a mitigated incident: the mitigation did not hold, back to triaged."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from warroom.core.durations import format_duration
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.lifecycle import Rules
from warroom.incidents.models import Incident

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


def on_refire(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    now: datetime,
    actor: Actor,
    alert_title: str,
    rules: Rules,
) -> bool:
    """Return a mitigated incident to triaged because a linked alert fired again.

    Return whether it moved. Writes a key `alert_refired` event, then the `reopened` one.
    """
    settings = config.verification
    if incident.status != "mitigated" or not settings.refire_returns_to_triaged:
        return False
    since = now - (incident.mitigated_at or now)
    inside = inside_window(config, incident, now)
    where = (
        f"inside the {format_duration(settings.window)} verification window"
        if inside
        else "after the verification window"
    )
    timeline.record(
        session,
        incident=incident,
        kind="alert_refired",
        at=now,
        actor=actor.name,
        source=actor.source,
        key_event=True,
        text=(
            f"Alert fired again {format_duration(since)} after mitigation ({where}): " + alert_title
        ),
        data={"inside_window": inside, "seconds_since_mitigation": int(since.total_seconds())},
    )
    incidents.transition(
        session,
        config=config,
        incident=incident,
        action="reopen",
        now=now,
        actor=actor,
        rules=rules,
        note="a linked alert fired again; the mitigation did not hold",
    )
    return True


def inside_window(config: WarroomConfig, incident: Incident, now: datetime) -> bool:
    """Tell whether a mitigated incident is still inside its verification window."""
    since = now - (incident.mitigated_at or now)
    return incident.verified_at is None and since <= config.verification.window
