"""Bulk opening: the new groups of one drain open their incidents together.

An alert storm opens hundreds of new groups at once. One at a time, each new group costs
some twenty statements (its group, its incident, its checklist, its events, its alerts);
here each kind of row is one statement for the whole drain. Anything unusual (a drill, a
report held for triage, an alert that names its reporter, a group another writer has just
opened) is left to the per-alert path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, text, update

from warroom.detection.linking import Linker, opening_event
from warroom.detection.models import AlertGroup
from warroom.detection.rows import CHUNK, alert_row, alert_title, built_once, new_alerts
from warroom.detection.schemas import AlertIn, IngestResult, RouteDecision
from warroom.incidents import timeline
from warroom.incidents.declaring import Declaration, declare_many
from warroom.incidents.models import Incident

_GROUPS = cast(Table, AlertGroup.__table__)
_new_groups = built_once(
    lambda insert: (
        insert(_GROUPS)
        .on_conflict_do_nothing(index_elements=["group_key"], index_where=text("is_open"))
        .returning(_GROUPS.c.id, _GROUPS.c.group_key)
    )
)
_LINK_GROUP = (
    update(_GROUPS)
    .where(_GROUPS.c.id == bindparam("group_id"))
    .values(incident_id=bindparam("incident_id"))
)
# (first alert, its route's decision, its title, the group's earliest start) -> declaration
Declare = Callable[[AlertIn, RouteDecision, str, datetime | None], Declaration]
# New incidents, each with the result of the delivery that opened it: count them towards
# their storms.
Bundle = Callable[[list[tuple[Incident, IngestResult]]], None]
Members = list[tuple[AlertIn, RouteDecision]]


def can_open_in_bulk(alert: AlertIn) -> bool:
    """Tell whether an alert opening a new group may open its incident in bulk."""
    return alert.kind == "alert" and alert.drill is None and not alert.reporter and not alert.held


def open_in_bulk(
    linker: Linker,
    *,
    integration: str,
    fresh: dict[str, Members],
    results: list[IngestResult],
    owner_of: dict[str, int],
    declare: Declare,
    bundle: Bundle,
) -> tuple[dict[str, str], list[str]]:
    """Open an incident for each new group in `fresh` (group key -> its alerts, in order).

    Returns (fingerprint -> "bulk" for every alert inserted here, the group keys another
    writer opened meanwhile: the caller takes those the per-alert way).
    """
    session, now = linker.session, linker.now
    # In key order (and the alerts in fingerprint order): two instances inserting the same
    # groups in different orders would each wait for the other's row, a deadlock on PostgreSQL.
    created = session.execute(
        _new_groups(session),
        [
            {"group_key": k, "is_open": True, "incident_id": None, "created_at": now}
            for k in sorted(fresh)
        ],
    )
    group_ids = {key: group_id for group_id, key in created}
    keys = [key for key in fresh if key in group_ids]
    if not keys:  # another writer opened every one of them
        return {}, list(fresh)
    declarations = []
    for key in keys:
        first, decision = fresh[key][0]
        starts = [a.starts_at for a, _ in fresh[key] if a.starts_at is not None]
        declarations.append(
            declare(first, decision, alert_title(first, decision), min(starts, default=None))
        )
    incidents = declare_many(session, config=linker.config, now=now, declarations=declarations)
    session.execute(
        _LINK_GROUP,
        [
            {"group_id": group_ids[key], "incident_id": incident.id}
            for key, incident in zip(keys, incidents, strict=True)
        ],
    )
    rows = sorted(
        (
            alert_row(
                alert, decision, integration=integration, key=key, now=now, incident_id=incident.id
            )
            for key, incident in zip(keys, incidents, strict=True)
            for alert, decision in fresh[key]
        ),
        key=lambda row: str(row["fingerprint"]),
    )
    inserted: dict[str, int] = {}
    for start in range(0, len(rows), CHUNK):
        found = session.execute(new_alerts(session), rows[start : start + CHUNK])
        inserted.update((fingerprint, alert_id) for alert_id, fingerprint in found)
    titles = {row["fingerprint"]: str(row["title"]) for row in rows}
    events: list[tuple[Incident, str, str, dict[str, Any]]] = []
    handled: dict[str, str] = {}
    for key, incident in zip(keys, incidents, strict=True):
        mine = [(a, inserted[a.fingerprint]) for a, _ in fresh[key] if a.fingerprint in inserted]
        if mine and mine[0][0] is fresh[key][0][0]:  # another writer may have the first alert
            first, first_id = mine.pop(0)
            linker.opened_with_alert(incident)  # its one "alert" event is the next one
            events.append((incident, *opening_event(first, first_id, titles[first.fingerprint])))
            handled[first.fingerprint] = "bulk"
        joined = [(i, titles[a.fingerprint], a) for a, i in mine]
        events += [(incident, *event) for event in linker.joined_events(incident, joined)]
        handled.update((a.fingerprint, "bulk") for a, _ in mine)
    timeline.record_unplanned(
        session, events, at=now, actor=linker.actor.name, source=linker.actor.source
    )
    openers = [results[owner_of[fresh[key][0][0].fingerprint]] for key in keys]
    for key, incident, opener in zip(keys, incidents, openers, strict=True):
        opener.opened.append(incident.number)
        opener.touch(incident.number)
        for alert, _ in fresh[key]:
            if alert.fingerprint in handled:
                results[owner_of[alert.fingerprint]].link(incident.number)
    bundle(list(zip(incidents, openers, strict=True)))  # a storm's parent comes after them
    return handled, [key for key in fresh if key not in group_ids]
