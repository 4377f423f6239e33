"""Drill runs: start one (its steps become rows), and read them back."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import Invalid, NotFound
from warroom.detection.schemas import AlertIn
from warroom.drills.models import Drill, DrillStep
from warroom.drills.scenario import Scenario
from warroom.drills.schemas import IncidentInfo
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident, IncidentGrant, IncidentRole

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

SOURCE = "drill"  # the intake source of what a drill injects
LABEL = "warroom_drill"  # the label every injected alert carries: the drill's id


def start(
    session: Session,
    *,
    config: WarroomConfig,
    scenario: Scenario,
    service: str | None,
    actor: Actor,
    now: datetime,
) -> Drill:
    """Store a drill and one row per timeline entry, each due at its offset (caller commits)."""
    actor.require("responder", "start a drill")
    service = service or scenario.service
    if service is not None and config.services and config.service(service) is None:
        known = ", ".join(s.id for s in config.services)
        raise Invalid(f"unknown service {service!r}; use one of {known}", {"field": "service"})
    drill = Drill(
        scenario=scenario.name,
        title=scenario.title,
        service=service,
        definition=scenario.model_dump(mode="json", exclude_none=True),
        allow=list(scenario.allow),
        started_by=actor.name,
        started_at=now,
    )
    session.add(drill)
    session.flush()
    for position, entry in enumerate(scenario.timeline):
        if entry.alert is not None:
            body = entry.alert.model_dump(mode="json", exclude_none=True)
        elif entry.report is not None:
            body = entry.report.model_dump(mode="json", exclude_none=True)
        else:
            body = {"expect": entry.expect}
        session.add(
            DrillStep(
                drill_id=drill.id,
                position=position,
                kind=entry.kind,
                offset_seconds=int(entry.at.total_seconds()),
                body=body,
                due_at=now + entry.at,
            )
        )
    session.info["wake_engine"] = True
    return drill


def get(session: Session, drill_id: int) -> Drill:
    """Return a drill, or raise NotFound."""
    drill = session.get(Drill, drill_id)
    if drill is None:
        raise NotFound(f"no drill {drill_id}")
    return drill


def steps(session: Session, drill_id: int) -> list[DrillStep]:
    """Return a drill's steps in timeline order."""
    stmt = select(DrillStep).where(DrillStep.drill_id == drill_id).order_by(DrillStep.position)
    return list(session.scalars(stmt))


def incident_info(session: Session, drill: Drill) -> IncidentInfo | None:
    """Return its incident's status and who took part: the commander, role holders, the paged."""
    if drill.incident_number is None:
        return None
    stmt = select(Incident).where(Incident.number == drill.incident_number)
    incident = session.scalars(stmt).first()
    if incident is None:
        return None
    roles = select(IncidentRole.person).where(IncidentRole.incident_id == incident.id)
    paged = select(IncidentGrant.person).where(
        IncidentGrant.incident_id == incident.id, IncidentGrant.kind == "paged"
    )
    found = [incident.commander] if incident.commander else []
    for people in (roles.order_by(IncidentRole.id), paged.order_by(IncidentGrant.id)):
        found += [person for person in session.scalars(people) if person not in found]
    return IncidentInfo(status=incident.status, participants=found)


def injected(drill: Drill, step: DrillStep) -> AlertIn:
    """Return what an alert or report step sends through intake, marked as the drill's."""
    body = step.body
    if step.kind == "report":
        title = str(body["title"])
        service = {"service": drill.service} if drill.service else {}
        return AlertIn(
            source=SOURCE,
            fingerprint=f"drill{drill.id}:report:{step.position}",
            status="firing",
            labels={**service, LABEL: str(drill.id)},
            title=title,
            summary=str(body.get("summary") or ""),
            severity=body.get("severity"),
            kind="report",
            drill=drill.id,
        )
    labels = {str(k): str(v) for k, v in (body.get("labels") or {}).items()}
    if drill.service:
        labels["service"] = drill.service  # --service, or the scenario's own
    labels[LABEL] = str(drill.id)
    annotations = {str(k): str(v) for k, v in (body.get("annotations") or {}).items()}
    # The same labels are the same alert: a later `status: resolved` entry resolves it.
    digest = hashlib.sha256(orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    return AlertIn(
        source=SOURCE,
        fingerprint=f"drill{drill.id}:{digest}",
        status=body.get("status", "firing"),
        labels=labels,
        annotations=annotations,
        title=annotations.get("summary") or labels.get("alertname"),
        summary=annotations.get("description"),
        severity=body.get("severity") or labels.get("severity"),
        drill=drill.id,
        raw={"drill": drill.id, "step": step.position, "labels": labels},
    )
