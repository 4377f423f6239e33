"""A postmortem (one per incident) and its action items."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.storage.base import Base, UTCDateTime


class Postmortem(Base):
    """What was learned from an incident; created when it resolves."""

    __tablename__ = "postmortems"
    __table_args__ = (Index("ix_postmortems_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # draft|in_review|done
    required: Mapped[bool] = mapped_column(Boolean, nullable=False)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: not required
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    # Counts the saves of the editable fields: a save made against an older version is refused
    # (Conflict) instead of overwriting what someone else saved since. 0: never saved.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # An admin may waive a required postmortem, with a reason (also on the timeline).
    waived_by: Mapped[str | None] = mapped_column(String(64))
    waived_reason: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    impact: Mapped[str] = mapped_column(Text, nullable=False, default="")
    root_cause: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # [{"question": …, "answer": …}, …] in the order they were asked
    five_whys: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    fishbone: Mapped[dict[str, list[str]]] = mapped_column(JSON, nullable=False, default=dict)
    contributing_factors: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    went_well: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    went_poorly: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    got_lucky: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)


class ActionItem(Base):
    """Something to do so it does not happen again (short- or long-term)."""

    __tablename__ = "postmortem_action_items"
    __table_args__ = (
        Index("ix_postmortem_action_items_postmortem_id", "postmortem_id"),
        Index("ix_postmortem_action_items_status_due_date", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(
        ForeignKey("postmortems.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # short_term|long_term
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    owner: Mapped[str | None] = mapped_column(String(64))
    due_date: Mapped[date | None] = mapped_column(Date())
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # open|done|wontfix
    jira_key: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
