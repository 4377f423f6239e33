"""A drill run and its timed steps: rows the engine works from (nothing waits in memory)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.storage.base import Base, UTCDateTime


class Drill(Base):
    """One practice incident's run: its scenario, what it may reach, and its incident."""

    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario: Mapped[str] = mapped_column(String(80), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    service: Mapped[str | None] = mapped_column(String(64))
    # The scenario as parsed when the drill started (a later edit of the file changes nothing).
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # The outside channels the scenario lets the drill reach (status_page, executives, …).
    allow: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    started_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    incident_number: Mapped[int | None] = mapped_column(Integer)


class DrillStep(Base):
    """One entry of a drill's timeline: an alert or report to inject, or a step expected."""

    __tablename__ = "drill_steps"
    __table_args__ = (
        Index(
            "ix_drill_steps_due",
            "due_at",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
        Index("ix_drill_steps_drill_id", "drill_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drill_id: Mapped[int] = mapped_column(
        ForeignKey("drills.id", ondelete="RESTRICT"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # alert | report | expect
    offset_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(Text)
