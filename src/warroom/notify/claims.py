"""What a sender's round claims: due rows leased, rate limits kept, pages bundled or dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident
from warroom.notify import outbox
from warroom.notify.budgets import Budgets
from warroom.notify.models import Notification

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

# Pages that may go out together as one message; a call or a push stays one per incident.
BUNDLED = frozenset({"chat", "email", "sms"})


@dataclass
class Claimed:
    """A claimed row (detached copy of what the send needs) and the pages bundled with it."""

    id: int
    bundle: list[int]
    row: Notification
    bundled_rows: list[Notification]
    links: dict[str, str]
    claimed_at: datetime | None = None
    lease_ends: datetime | None = None


def claim_round(
    session: Session,
    *,
    config: WarroomConfig,
    now: datetime,
    owner: str,
    limit: int,
    in_flight: list[Notification],
) -> list[Claimed]:
    """Lease due rows; defer those over their destination's rate limit; bundle pages.

    `in_flight`: rows this sender is still sending (the round before), not yet recorded.
    """
    lease = config.notifications.claim_lease
    rows = outbox.claim(session, now=now, owner=owner, limit=limit, lease=lease)
    incidents = _incidents(session, {row.incident_id for row in rows} - {None})
    budgets = Budgets(session, config, now, rows, in_flight)
    # Several pages to one person in this batch go out as one message.
    heads: dict[tuple[str, str], Notification] = {}
    bundled: dict[int, list[Notification]] = {}
    out: list[Claimed] = []
    for row in rows:
        if row.action == "page" and _answered(incidents.get(row.incident_id)):
            outbox.cancel(row, reason="the incident was acknowledged before this page went out")
            continue
        bundles = row.action == "page" and row.channel in BUNDLED
        head = heads.get((row.channel, row.destination)) if bundles else None
        if head is not None:
            bundled.setdefault(head.id, []).append(row)
            continue
        wait_until = budgets.take(row)
        if wait_until is not None:
            outbox.defer(row, until=wait_until)
            continue
        if bundles:
            heads[(row.channel, row.destination)] = row
            more = outbox.bundle_candidates(session, head=row, now=now)
            for other in more:
                other.status, other.claimed_by = "sending", owner
                other.claimed_until = now + lease
            bundled.setdefault(row.id, []).extend(more)
        out.append(Claimed(row.id, [], row, [], {}))
    for item in out:
        item.bundled_rows = bundled.get(item.id, [])
        item.bundle = [b.id for b in item.bundled_rows]
        found = incidents.get(item.row.incident_id)
        item.links = dict(found.links or {}) if found is not None else {}
        item.claimed_at, item.lease_ends = now, now + lease
    return out


def _incidents(session: Session, incident_ids: set[int | None]) -> dict[int | None, Any]:
    """Return incident id -> (links, status, acknowledged_at), in one query."""
    if not incident_ids:
        return {}
    rows = session.execute(
        select(Incident.id, Incident.links, Incident.status, Incident.acknowledged_at).where(
            Incident.id.in_(incident_ids)
        )
    )
    return {row.id: row for row in rows}


def _answered(incident: Any) -> bool:
    """Tell whether paging for this incident is over (acknowledged, or moved on)."""
    return incident is not None and (
        incident.acknowledged_at is not None or incident.status != "detected"
    )
