"""The columns of incidents a page needs, read in chunks (the tick reads thousands at once)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident

INCIDENTS = cast(Table, Incident.__table__)
CHUNK = 2500
_I = INCIDENTS.c
# The columns of an incident a page needs (the tick reads them with its claim).
COLUMNS = (
    _I.id, _I.number, _I.slug, _I.title, _I.summary, _I.status, _I.severity, _I.service,
    _I.commander, _I.visibility, _I.links, _I.detected_at, _I.acknowledged_at, _I.drill_id,
)  # fmt: skip


def incidents(session: Session, ids: list[int]) -> dict[int, Any]:
    """Return id -> row of the columns a page needs, for the given incidents."""
    found: dict[int, Any] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.connection().execute(
            select(*COLUMNS).where(_I.id.in_(ids[start : start + CHUNK]))
        )
        found.update({row.id: row for row in rows})
    return found
