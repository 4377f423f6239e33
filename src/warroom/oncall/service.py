"""Who is on call: the configured schedules combined with the stored overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import Invalid, NotFound
from warroom.oncall.config import Override, OverrideMode, Schedule
from warroom.oncall.models import OverrideRow
from warroom.oncall.rotation import Shift, on_call, shifts

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

MAX_WINDOW_DAYS = 400  # a shift listing or calendar covers at most about a year

MODES = ("replace", "add")  # how an override meets the rotation
MAX_OVERRIDE = timedelta(days=90)


def schedule(config: WarroomConfig, schedule_id: str) -> Schedule:
    """Return a configured schedule, or raise NotFound naming the known ones."""
    found = next((s for s in config.schedules if s.id == schedule_id), None)
    if found is None:
        known = ", ".join(s.id for s in config.schedules) or "none configured"
        raise NotFound(f"no schedule {schedule_id!r} (known: {known})")
    return found


def overrides(
    session: Session, *, start: datetime, end: datetime, schedules: list[str] | None = None
) -> list[Override]:
    """Return stored overrides overlapping [start, end) as engine values."""
    return [
        Override(
            schedule=r.schedule,
            layer=r.layer,
            start=r.starts_at,
            end=r.ends_at,
            person=r.person,
            mode=cast(OverrideMode, r.mode),
        )
        for r in overlapping_overrides(session, start=start, end=end, schedules=schedules)
    ]


def now_on_call(
    session: Session, *, config: WarroomConfig, at: datetime, schedule_ids: list[str] | None = None
) -> list[tuple[Schedule, dict[str, list[str]]]]:
    """Return each schedule with layer -> people on call at `at` (overrides applied)."""
    chosen = [schedule(config, s) for s in schedule_ids] if schedule_ids else config.schedules
    active = overrides(
        session, start=at, end=at + timedelta(microseconds=1), schedules=[s.id for s in chosen]
    )
    by_schedule: dict[str, list[Override]] = {}
    for item in active:
        by_schedule.setdefault(item.schedule, []).append(item)
    return [(s, on_call(s, at, by_schedule.get(s.id, []))) for s in chosen]


def schedule_shifts(
    session: Session,
    *,
    config: WarroomConfig,
    schedule_id: str,
    start: datetime,
    end: datetime,
    layer: str | None = None,
) -> list[Shift]:
    """Return a schedule's shifts in [start, end), overrides applied."""
    _check_window(start, end)
    found = schedule(config, schedule_id)
    if layer is not None and found.layer(layer) is None:
        raise NotFound(f"schedule {schedule_id!r} has no layer {layer!r}")
    items = overrides(session, start=start, end=end, schedules=[found.id])
    return shifts(found, start, end, items, layer=layer)


def person_shifts(
    session: Session, *, config: WarroomConfig, person: str, start: datetime, end: datetime
) -> list[tuple[Schedule, Shift]]:
    """Return every shift of one person across all schedules in [start, end)."""
    _check_window(start, end)
    if config.person(person) is None:
        raise NotFound(f"no person {person!r} in warroom.yaml")
    items = overrides(session, start=start, end=end)
    found = []
    for each in config.schedules:
        mine = [o for o in items if o.schedule == each.id]
        found += [(each, s) for s in shifts(each, start, end, mine) if s.person == person]
    return sorted(found, key=lambda pair: pair[1].start)


def _check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Invalid("end must be after start", {"field": "end"})
    if (end - start).days > MAX_WINDOW_DAYS:
        raise Invalid(f"ask for at most {MAX_WINDOW_DAYS} days at a time", {"field": "end"})


def create_override(
    session: Session,
    *,
    schedule: str,
    layer: str,
    person: str,
    mode: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    created_by: str | None,
    now: datetime,
) -> OverrideRow:
    """Store an override after checking its window (names are checked by the caller)."""
    if mode not in MODES:
        raise Invalid(f"unknown mode {mode!r}; use replace or add", {"field": "mode"})
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at", {"field": "ends_at"})
    if ends_at <= now:
        raise Invalid("the override would already be over", {"field": "ends_at"})
    if ends_at - starts_at > MAX_OVERRIDE:
        raise Invalid("an override may last at most 90 days", {"field": "ends_at"})
    if not reason.strip():
        raise Invalid("say why (e.g. 'covering for alice, sick')", {"field": "reason"})
    row = OverrideRow(
        schedule=schedule,
        layer=layer,
        person=person,
        mode=mode,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason.strip(),
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def overlapping_overrides(
    session: Session, *, start: datetime, end: datetime, schedules: list[str] | None = None
) -> list[OverrideRow]:
    """Return overrides that overlap [start, end), optionally of some schedules only."""
    stmt = select(OverrideRow).where(OverrideRow.starts_at < end, OverrideRow.ends_at > start)
    if schedules is not None:
        stmt = stmt.where(OverrideRow.schedule.in_(schedules))
    return list(session.scalars(stmt.order_by(OverrideRow.starts_at, OverrideRow.id)))


def delete_override(session: Session, *, override_id: int) -> OverrideRow:
    """Remove an override (it is runtime data, not history; the audit lives in the logs)."""
    row = session.get(OverrideRow, override_id)
    if row is None:
        raise NotFound(f"no override {override_id}")
    session.delete(row)
    return row
