"""A status update: what the communications liaison tells people about an incident."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.storage.base import Base, UTCDateTime

BODY_MAX = 5_000
PUBLIC_TITLE_MAX = 200  # as an incident title


class StatusUpdate(Base):
    """One update on an incident; public ones appear on the status page and its feed."""

    __tablename__ = "status_updates"
    __table_args__ = (
        Index("ix_status_updates_incident_id_at", "incident_id", "at"),
        # The public page names an incident by its public title, never by its internal one.
        CheckConstraint("NOT public OR public_title IS NOT NULL", name="public_has_title"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    author: Mapped[str | None] = mapped_column(String(64))  # person or user id
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # component id -> operational | degraded_performance | partial_outage | major_outage | …
    components: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)
    public: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # What the public reads as the incident's name from this update on; None on private ones.
    public_title: Mapped[str | None] = mapped_column(String(PUBLIC_TITLE_MAX))
