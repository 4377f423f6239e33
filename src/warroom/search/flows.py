"""Searching for a caller: their words and filters checked, their visibility applied."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from warroom.core import durations
from warroom.core.errors import Invalid
from warroom.incidents import visibility
from warroom.incidents.actor import Access
from warroom.incidents.fields import check_severity
from warroom.incidents.states import OPEN_STATUSES, STATUSES
from warroom.search import query
from warroom.search.service import Results, SearchFilters, search
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

PER_PAGE_MAX = 100
PAGE_MAX = 500  # deeper than anyone reads; bounds the offset the database skips


def split(values: Iterable[str] | None) -> list[str]:
    """Accept both `?status=a&status=b` and `?status=a,b`."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def build_filters(
    config: WarroomConfig,
    *,
    now: datetime,
    service: str | None = None,
    severity: Iterable[str] | None = None,
    status: Iterable[str] | None = None,
    incident_type: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> SearchFilters:
    """Return the filters, checked (a bad one raises Invalid naming it)."""
    statuses = split(status)
    if "open" in statuses:  # the incidents still being worked
        statuses = [s for s in statuses if s != "open"] + list(OPEN_STATUSES)
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise Invalid(
            f"unknown status {', '.join(bad)}; use {', '.join(STATUSES)} or open",
            {"field": "status"},
        )
    start = durations.moment(since, field="since", now=now) if since else None
    end = durations.moment(until, field="until", now=now) if until else None
    if start and end and end <= start:
        raise Invalid("until must be after since", {"field": "until"})
    return SearchFilters(
        service=(service or "").strip() or None,
        severity=[check_severity(config, s) for s in split(severity)] or None,
        status=list(dict.fromkeys(statuses)) or None,
        incident_type=(incident_type or "").strip() or None,
        since=start,
        until=end,
    )


def find(
    db: Database,
    config: WarroomConfig,
    access: Access,
    *,
    text: str,
    filters: SearchFilters,
    page: int = 1,
    per_page: int = 20,
) -> Results:
    """Return a page of the incidents `access` may see that match `text`, best first."""
    if not 1 <= page <= PAGE_MAX:
        raise Invalid(f"page must be 1 to {PAGE_MAX}", {"field": "page"})
    if not 1 <= per_page <= PER_PAGE_MAX:
        raise Invalid(f"per_page must be 1 to {PER_PAGE_MAX}", {"field": "per_page"})
    terms = query.parse(text)
    condition = visibility.visible(config, access)
    with db.session() as session:
        return search(
            session,
            terms=terms,
            visible=condition,
            filters=filters,
            page=page,
            per_page=per_page,
        )
