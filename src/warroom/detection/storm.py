"""Alert storms: insert many new alerts of already-open incidents in one statement.

The per-alert path costs a handful of statements per alert; in a storm hundreds of new
alerts arrive for a group that already has its incident, and they only need inserting and
linking. Anything unusual (a silence, a group without an open incident, a race with another
writer) is left to the per-alert path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, text

from warroom.detection.models import Alert, AlertGroup
from warroom.detection.rows import GROUP_IS_OPEN, alert_title, capped_raw, insert_for
from warroom.detection.schemas import AlertIn, RouteDecision
from warroom.incidents.models import Incident
from warroom.incidents.states import OPEN_STATUSES

if TYPE_CHECKING:
    from warroom.detection.service import Intake

CHUNK = 400  # rows per INSERT (SQLite allows 32,766 bound values per statement)


def join_storm(
    intake: Intake, items: list[tuple[AlertIn, RouteDecision]], owner_of: dict[str, int]
) -> dict[str, str]:
    """Insert new alerts of open incidents in bulk.

    Returns fingerprint -> "bulk" (inserted here; the caller counts it) or "done" (the
    group's first alert, which opened the incident through the per-alert path).
    """
    by_key: dict[str, list[tuple[AlertIn, RouteDecision]]] = {}
    seen: set[str] = set()
    for alert, decision in items:
        if alert.fingerprint in seen or intake._silence_for(alert.labels) is not None:
            continue
        seen.add(alert.fingerprint)
        by_key.setdefault(intake._group_key(alert, decision), []).append((alert, decision))
    handled: dict[str, str] = {}
    insert = insert_for(intake.session)
    for key, members in by_key.items():
        if len(members) < 2:
            continue  # a single alert: the per-alert path is as cheap
        group = intake.session.scalars(
            select(AlertGroup).where(AlertGroup.group_key == key, GROUP_IS_OPEN)
        ).first()
        incident = _open_incident(intake, group)
        if incident is None:
            # The storm's first alert opens the incident the usual way; the rest join in bulk.
            first, decision = members[0]
            intake.current = owner_of[first.fingerprint]
            intake._one(first, decision)
            handled[first.fingerprint] = "done"
            members = members[1:]
            group = intake.session.scalars(
                select(AlertGroup).where(AlertGroup.group_key == key, GROUP_IS_OPEN)
            ).first()
            incident = _open_incident(intake, group)
            if incident is None:
                continue  # silenced or otherwise not linked: leave the rest to the usual path
        changed = False  # whether the incident's runbook file needs rewriting
        for start in range(0, len(members), CHUNK):
            chunk = members[start : start + CHUNK]
            rows = [
                {
                    "source": a.source,
                    "integration": intake.integration,
                    "kind": a.kind,
                    "fingerprint": a.fingerprint,
                    "status": "firing",
                    "is_open": True,
                    "title": alert_title(a, d),
                    "severity": d.severity,
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "starts_at": a.starts_at,
                    "ends_at": None,
                    "generator_url": a.generator_url,
                    "group_key": key,
                    "received_at": intake.now,
                    "last_seen_at": intake.now,
                    "seen_count": 1,
                    "incident_id": incident.id,
                    "silence_id": None,
                    "raw": capped_raw(a),
                }
                for a, d in chunk
            ]
            # executemany form: one cached statement, batched by the driver ("insertmanyvalues")
            table = Alert.__table__
            stmt = (
                insert(table)
                .on_conflict_do_nothing(
                    index_elements=["fingerprint", "source", "integration"],
                    index_where=text("is_open"),
                )
                .returning(table.c.id, table.c.fingerprint)
            )
            titles = {row["fingerprint"]: row["title"] for row in rows}
            inserted = {
                fp: (alert_id, titles[fp]) for alert_id, fp in intake.session.execute(stmt, rows)
            }
            for alert, _ in chunk:
                if alert.fingerprint in inserted:
                    alert_id, title = inserted[alert.fingerprint]
                    if intake._note_joined(incident, alert_id, str(title), alert):
                        changed = True
                    if intake.fired_again(incident, str(title)):
                        changed = True
                    handled[alert.fingerprint] = "bulk"
        starts = [a.starts_at for a, _ in members if handled.get(a.fingerprint) and a.starts_at]
        if starts and intake._move_start_earlier(incident, min(starts)):
            changed = True
        for alert, _ in members:  # every delivery with an alert here joined this incident
            if handled.get(alert.fingerprint):
                intake.results[owner_of[alert.fingerprint]].link(incident.number)
        if changed:
            intake.results[owner_of[members[0][0].fingerprint]].touch(incident.number)
    return handled


def _open_incident(intake: Intake, group: AlertGroup | None) -> Incident | None:
    """Return the group's incident if it is still open."""
    if group is None or group.incident_id is None:
        return None
    incident = intake.session.get(Incident, group.incident_id)
    return incident if incident is not None and incident.status in OPEN_STATUSES else None
