"""Evidence rows: the items (one per uploaded version) and their chain of custody."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from warroom.storage.base import Base, UTCDateTime

# Custody actions, in the order an item usually meets them.
ACTIONS = ("collected", "transferred", "viewed", "exported", "verified")


class EvidenceItem(Base):
    """One version of one named piece of evidence; never changed (triggers refuse it)."""

    __tablename__ = "evidence_items"
    __table_args__ = (
        UniqueConstraint("incident_id", "name", "version", name="uq_evidence_items_version"),
        Index("ix_evidence_items_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="RESTRICT"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    # The file's name as the upload sent it (its last path part), kept when `name` differs.
    original_name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    media_type: Mapped[str] = mapped_column(String(255), nullable=False)
    # Where the bytes are, relative to the evidence directory: `ab/abcdef…` (the hash).
    stored_key: Mapped[str] = mapped_column(String(80), nullable=False)
    collected_by: Mapped[str] = mapped_column(String(255), nullable=False)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")


class CustodyEntry(Base):
    """Who did what with an item, when (and in which time zone), where it is; append-only."""

    __tablename__ = "evidence_custody"
    __table_args__ = (Index("ix_evidence_custody_item_id", "item_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("evidence_items.id", ondelete="RESTRICT"), nullable=False
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # The actor's own zone (warroom.yaml's people), so `at` reads as their wall clock did.
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    who: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    location: Mapped[str] = mapped_column(Text, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
