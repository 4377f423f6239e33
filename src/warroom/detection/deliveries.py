"""Seen delivery ids: a signed delivery replayed (or retried) is answered but changes nothing.

PagerDuty and Jira sign the body but not the time it was sent, so a captured delivery stays
valid forever. Each delivery's ids are inserted in the same transaction as its effect; the
unique key on (source, delivery_id) decides between two copies, even from two instances at
once (PostgreSQL makes the second insert wait for the first's commit, then skip).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from warroom.detection.models import SeenDelivery
from warroom.detection.rows import insert_for

# Longer than any sender retries (PagerDuty for minutes, Jira for up to 30 minutes); a copy
# replayed after this is no longer recognised (see docs/security.md).
RETENTION = timedelta(days=7)
_ID_LIMIT = 255  # the column's length; longer ids are cut (they stay as unique in practice)


def claim(session: Session, *, source: str, ids: Sequence[str], now: datetime) -> bool:
    """Record a delivery's ids; return False when any was seen before (nothing to do then)."""
    if not ids:
        return True
    insert = insert_for(session)
    fresh = True
    for delivery_id in dict.fromkeys(ids):  # the same id twice in one delivery counts once
        statement = (
            insert(SeenDelivery)
            .values(source=source, delivery_id=delivery_id[:_ID_LIMIT], received_at=now)
            .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
            .returning(SeenDelivery.id)  # a row only when inserted (rowcount is not reliable)
        )
        if session.execute(statement).scalar() is None:
            fresh = False
    return fresh
