"""An incident's escalation state: a row the engine advances, never memory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from warroom.storage.base import Base, UTCDateTime

ACTIVE = "active"


class Escalation(Base):
    """Where an incident's paging stands: the pinned policy, the next step and when it is due."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_state_next_at", "state", "next_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    policy_id: Mapped[str] = mapped_column(String(64), nullable=False)
    policy_version: Mapped[str] = mapped_column(String(16), nullable=False)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # pinned snapshot
    step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # next to run
    loop: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=ACTIVE)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(200))  # why it stopped
