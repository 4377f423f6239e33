"""Grouping: which open incident an alert joins (its group key and the group's row)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from warroom.detection.models import AlertGroup
from warroom.detection.rows import GROUP_IS_OPEN, built_once
from warroom.detection.schemas import AlertIn, RouteDecision
from warroom.incidents.models import Incident
from warroom.incidents.states import OPEN_STATUSES
from warroom.storage import savepoints


def group_key(alert: AlertIn, decision: RouteDecision, integration: str) -> str:
    """Return the key shared by alerts that join the same open incident."""
    prefix = f"{alert.source}:{integration}"
    if alert.drill is not None:  # whatever a drill injects joins that drill's one incident
        return f"{prefix}:drill:{alert.drill}"
    if alert.kind == "report":
        return f"{prefix}:report:{alert.fingerprint}"
    if decision.group_by:
        values = {name: alert.labels.get(name, "") for name in decision.group_by}
        return f"{prefix}:route{decision.route}:{json.dumps(values, sort_keys=True)}"
    if alert.group_key:
        return f"{prefix}:group:{alert.group_key}"
    return f"{prefix}:alert:{alert.fingerprint}"


# Built once (rows.built_once says why): a new group runs each of these.
_OPEN = select(AlertGroup).where(AlertGroup.group_key == bindparam("key"), GROUP_IS_OPEN)
_OPEN_LOCKED = _OPEN.with_for_update()
_OPEN_MANY = select(AlertGroup).where(
    AlertGroup.group_key.in_(bindparam("keys", expanding=True)), GROUP_IS_OPEN
)
_new_group = built_once(
    lambda insert: (
        insert(AlertGroup)
        .values(
            group_key=bindparam("key"), is_open=True, incident_id=None, created_at=bindparam("now")
        )
        .on_conflict_do_nothing(index_elements=["group_key"], index_where=text("is_open"))
        .returning(AlertGroup)
    )  # the new row as an object, without a second query
)


def find_open_many(session: Session, keys: list[str]) -> dict[str, AlertGroup]:
    """Return the open groups of these keys, by key (not locked): a statement per 500."""
    found: dict[str, AlertGroup] = {}
    for start in range(0, len(keys), 500):  # well under SQLite's bound-parameter limit
        chunk = {"keys": keys[start : start + 500]}
        found.update((group.group_key, group) for group in session.scalars(_OPEN_MANY, chunk))
    return found


def open_incident(session: Session, group: AlertGroup | None) -> Incident | None:
    """Return the group's incident if it is still open."""
    if group is None or group.incident_id is None:
        return None
    incident = session.get(Incident, group.incident_id)
    return incident if incident is not None and incident.status in OPEN_STATUSES else None


def open_group(session: Session, key: str, now: datetime) -> AlertGroup:
    """Return the open group for `key`, closing it first if its incident is over."""
    group = session.scalars(_OPEN_LOCKED, {"key": key}).first()
    if group is not None and group.incident_id is not None:
        incident = session.get(Incident, group.incident_id)
        if incident is not None and incident.status not in OPEN_STATUSES:
            group.is_open = False  # a new firing after resolution is a new incident
            session.flush()
            group = None
    if group is not None:
        return group
    created = session.scalars(_new_group(session), {"key": key, "now": now}).first()
    if created is not None:
        savepoints.returned(session, [created])  # a failed delivery takes it with it
    if created is None:  # a concurrent delivery created it; it has its incident by now
        created = session.scalars(_OPEN_LOCKED, {"key": key}).first()
        assert created is not None
    return created
