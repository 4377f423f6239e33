"""The columns of incidents a page needs, read in chunks (the tick reads thousands at once)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident

INCIDENTS = cast(Table, Incident.__table__)
CHUNK = 2500


def incidents(session: Session, ids: list[int]) -> dict[int, Any]:
    """Return id -> row of the columns a page needs, for the given incidents."""
    i = INCIDENTS.c
    columns = (
        i.id, i.number, i.slug, i.title, i.summary, i.status, i.severity, i.service,
        i.commander, i.visibility, i.links, i.detected_at, i.acknowledged_at,
    )  # fmt: skip
    found: dict[int, Any] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.connection().execute(
            select(*columns).where(i.id.in_(ids[start : start + CHUNK]))
        )
        found.update({row.id: row for row in rows})
    return found
