"""What an alert does to the open incident it joins: a timeline note, a refire, an earlier
start. One `Linker` serves one intake run; the delivery's result is passed to each call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.detection import refire
from warroom.detection.rows import SOURCE_NAMES
from warroom.detection.schemas import AlertIn, IngestResult
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.lifecycle import Rules
from warroom.incidents.models import Incident, TimelineEvent

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

ALERT_EVENTS_MAX = 25  # "alert joined" timeline events per incident before they are summarised


def opening_event(alert: AlertIn, alert_id: int, title: str) -> tuple[str, str, dict[str, Any]]:
    """Return the (kind, text, data) of the "alert" event of the alert that opened an incident."""
    text = f"{SOURCE_NAMES.get(alert.source, alert.source)} {alert.kind}: {title}"
    return (
        "alert",
        text,
        {"alert_id": alert_id, "fingerprint": alert.fingerprint, "labels": alert.labels},
    )


@dataclass
class Linker:
    """Changes incidents as their alerts arrive, for one integration's intake run."""

    session: Session
    config: WarroomConfig
    now: datetime
    actor: Actor  # the integration, as the timeline names it
    rules: Rules
    _alert_events: dict[int, int] = field(default_factory=dict, init=False)

    def note_joined(self, incident: Incident, alert_id: int, title: str, alert: AlertIn) -> bool:
        """Write an "alert joined" event if the incident has few yet; return whether written."""
        return self.note_joined_many(incident, [(alert_id, title, alert)])

    def note_joined_many(self, incident: Incident, joined: list[tuple[int, str, AlertIn]]) -> bool:
        """Write "alert joined" events for the first few alerts only: a storm of a thousand
        alerts must not bury the timeline (they are all listed under the incident's alerts).

        `joined` holds (alert id, title, alert) in arrival order; returns whether any was written.
        """
        events = self.joined_events(incident, joined)
        timeline.record_unplanned(
            self.session,
            [(incident, *event) for event in events],
            at=self.now,
            actor=self.actor.name,
            source=self.actor.source,
        )
        return bool(events)

    def joined_events(
        self, incident: Incident, joined: list[tuple[int, str, AlertIn]]
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """Return the "alert joined" events to write for `joined` (the caller writes them)."""
        count = self._alert_events.get(incident.id)
        if count is None:
            count = (
                self.session.scalar(
                    select(func.count())
                    .select_from(TimelineEvent)
                    .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "alert")
                )
                or 0
            )
        events: list[tuple[str, str, dict[str, Any]]] = []
        for alert_id, title, alert in joined:
            if count < ALERT_EVENTS_MAX:
                text = f"{SOURCE_NAMES.get(alert.source, alert.source)} alert joined: {title}"
            elif count == ALERT_EVENTS_MAX:
                text = "More alerts are joining; see this incident's alerts for all of them"
            else:
                count += 1
                continue
            events.append(("alert", text, {"alert_id": alert_id, "fingerprint": alert.fingerprint}))
            count += 1
        self._alert_events[incident.id] = count
        return events

    def opened_with_alert(self, incident: Incident) -> None:
        """The incident was opened here with its first "alert" event: no need to count them."""
        self._alert_events.setdefault(incident.id, 1)

    def fired_again(self, incident: Incident, title: str, result: IngestResult) -> bool:
        """A firing alert joined a mitigated incident: the verification window decides."""
        if incident.status != "mitigated":
            return False
        inside = refire.inside_window(self.config, incident, self.now)
        moved = refire.on_refire(
            self.session,
            config=self.config,
            incident=incident,
            now=self.now,
            actor=self.actor,
            alert_title=title,
            rules=self.rules,
        )
        if moved:  # counted once the delivery commits
            result.refired.append((incident.number, incident.severity, inside))
        return moved

    def move_start_earlier(self, incident: Incident, start: datetime | None) -> bool:
        """Impact began at the earliest alert's start; return whether started_at moved."""
        if start is None or start > incident.detected_at:
            return False
        if incident.started_at is None or start < incident.started_at:
            incidents.update(
                self.session,
                config=self.config,
                incident=incident,
                now=self.now,
                actor=self.actor,
                changes={"started_at": start},
                rules=self.rules,
                reason="an alert of this incident started earlier",
            )
            return True
        return False
