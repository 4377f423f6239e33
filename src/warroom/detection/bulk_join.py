"""Bulk joining: insert many new alerts of already-open incidents in one statement.

The per-alert path costs a handful of statements per alert; in a storm hundreds of new
alerts arrive for a group that already has its incident, and they only need inserting and
linking. Anything unusual (a silence, a group without an open incident, a race with another
writer) is left to the per-alert path.
"""

from __future__ import annotations

from collections.abc import Callable

from warroom.detection.bulk_open import Bundle, Declare, can_open_in_bulk, open_in_bulk
from warroom.detection.grouping import find_open_many, group_key, open_incident
from warroom.detection.linking import Linker
from warroom.detection.rows import CHUNK, alert_row, new_alerts
from warroom.detection.schemas import AlertIn, IngestResult, RouteDecision
from warroom.detection.silences import ActiveSilences
from warroom.incidents.models import Incident
from warroom.incidents.states import OPEN_STATUSES

# The per-alert path, for a storm's first alert: (alert, decision, its delivery's result)
# -> the id of the incident it is linked to, if any.
OneAlert = Callable[[AlertIn, RouteDecision, IngestResult], int | None]


def join_in_bulk(
    linker: Linker,
    *,
    integration: str,
    silences: ActiveSilences,
    items: list[tuple[AlertIn, RouteDecision]],
    results: list[IngestResult],
    owner_of: dict[str, int],
    one: OneAlert,
    declare: Declare,
    bundle: Bundle,
) -> dict[str, str]:
    """Insert new alerts of open incidents in bulk.

    `results` holds one result per delivery and `owner_of` maps a fingerprint to the index of
    the delivery it came from. Returns fingerprint -> "bulk" (inserted here; the caller counts
    it) or "done" (the group's first alert, which opened the incident through `one`).
    """
    session = linker.session
    by_key: dict[str, list[tuple[AlertIn, RouteDecision]]] = {}
    seen: set[str] = set()
    for alert, decision in items:
        if alert.fingerprint in seen or silences.matching(alert.labels) is not None:
            continue
        seen.add(alert.fingerprint)
        by_key.setdefault(group_key(alert, decision, integration), []).append((alert, decision))
    groups = find_open_many(session, list(by_key))
    fresh = {
        key: members
        for key, members in by_key.items()
        if key not in groups and can_open_in_bulk(members[0][0])
    }
    handled: dict[str, str] = {}
    if fresh:  # new groups open their incidents together (an alert storm)
        handled, taken = open_in_bulk(
            linker,
            integration=integration,
            fresh=fresh,
            results=results,
            owner_of=owner_of,
            declare=declare,
            bundle=bundle,
        )
        for key in taken:
            del fresh[key]
    for key, members in by_key.items():
        if len(members) < 2 or key in fresh:
            continue  # opened above, or a single alert: the per-alert path is as cheap
        incident = open_incident(session, groups.get(key))
        if incident is None:
            # The storm's first alert opens the incident the usual way; the rest join in bulk.
            first, decision = members[0]
            linked = one(first, decision, results[owner_of[first.fingerprint]])
            handled[first.fingerprint] = "done"
            members = members[1:]
            incident = session.get(Incident, linked) if linked is not None else None
            if incident is None or incident.status not in OPEN_STATUSES:
                continue  # silenced or otherwise not linked: leave the rest to the usual path
        changed = False  # whether the incident's runbook file needs rewriting
        for start in range(0, len(members), CHUNK):
            chunk = members[start : start + CHUNK]
            rows = [
                alert_row(
                    a, d, integration=integration, key=key, now=linker.now, incident_id=incident.id
                )
                for a, d in chunk
            ]
            titles = {row["fingerprint"]: row["title"] for row in rows}
            # executemany form: one statement, batched by the driver ("insertmanyvalues")
            found = session.execute(new_alerts(session), rows)
            inserted = {fp: (alert_id, titles[fp]) for alert_id, fp in found}
            joined = [
                (inserted[a.fingerprint][0], str(inserted[a.fingerprint][1]), a)
                for a, _ in chunk
                if a.fingerprint in inserted
            ]
            # A mitigated incident is decided by its first alert back (a refire): there each
            # alert's note and refire keep their order; elsewhere one statement notes them all.
            batches = [[j] for j in joined] if incident.status == "mitigated" else [joined]
            for batch in batches:
                if linker.note_joined_many(incident, batch):
                    changed = True
                for _, title, alert in batch:
                    if linker.fired_again(incident, title, results[owner_of[alert.fingerprint]]):
                        changed = True
                    handled[alert.fingerprint] = "bulk"
        starts = [a.starts_at for a, _ in members if handled.get(a.fingerprint) and a.starts_at]
        if starts and linker.move_start_earlier(incident, min(starts)):
            changed = True
        for alert, _ in members:  # every delivery with an alert here joined this incident
            if handled.get(alert.fingerprint):
                results[owner_of[alert.fingerprint]].link(incident.number)
        if changed:
            results[owner_of[members[0][0].fingerprint]].touch(incident.number)
    return handled
