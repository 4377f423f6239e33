"""On-call overrides as runtime data: stored, listed and removed (the schedules are config)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from warroom.core.errors import Invalid, NotFound
from warroom.storage.base import Base, UTCDateTime

MODES = ("replace", "add")
MAX_OVERRIDE = timedelta(days=90)


class OverrideRow(Base):
    """Someone covers (or joins) a schedule layer for a window."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index("ix_oncall_overrides_schedule_end", "schedule", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(64), nullable=False)
    layer: Mapped[str] = mapped_column(String(64), nullable=False)
    person: Mapped[str] = mapped_column(String(64), nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


def create(
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


def overlapping(
    session: Session, *, start: datetime, end: datetime, schedules: list[str] | None = None
) -> list[OverrideRow]:
    """Return overrides that overlap [start, end), optionally of some schedules only."""
    stmt = select(OverrideRow).where(OverrideRow.starts_at < end, OverrideRow.ends_at > start)
    if schedules is not None:
        stmt = stmt.where(OverrideRow.schedule.in_(schedules))
    return list(session.scalars(stmt.order_by(OverrideRow.starts_at, OverrideRow.id)))


def delete(session: Session, *, override_id: int) -> OverrideRow:
    """Remove an override (it is runtime data, not history; the audit lives in the logs)."""
    row = session.get(OverrideRow, override_id)
    if row is None:
        raise NotFound(f"no override {override_id}")
    session.delete(row)
    return row
