"""Stored alerts, the groups that tie alerts to one open incident, and silences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from warroom.storage.base import Base, UTCDateTime


class Alert(Base):
    """One alert episode: from first firing to resolved, however many times it is re-sent."""

    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open episode per fingerprint: concurrent deliveries cannot duplicate it.
        Index(
            "uq_alerts_open_fingerprint",
            # The fingerprint leads: it is the selective column, and PostgreSQL picks this
            # index for `fingerprint IN (…)` even before it has statistics on a new table.
            "fingerprint",
            "source",
            "integration",
            unique=True,
            sqlite_where=text("is_open"),
            postgresql_where=text("is_open"),
        ),
        Index("ix_alerts_incident_id", "incident_id"),
        Index("ix_alerts_received_at", "received_at"),
        # Deleting an ended silence sets its alerts' silence_id to NULL: without this index
        # each deleted silence is a scan of every alert (retention prunes them, migration 0030).
        Index("ix_alerts_silence_id", "silence_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    integration: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    is_open: Mapped[bool] = mapped_column(Boolean, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    severity: Mapped[str | None] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    generator_url: Mapped[str | None] = mapped_column(Text)
    group_key: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    seen_count: Mapped[int] = mapped_column(Integer, nullable=False)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"))
    silence_id: Mapped[int | None] = mapped_column(ForeignKey("silences.id", ondelete="SET NULL"))
    raw: Mapped[str] = mapped_column(Text, nullable=False)


class AlertGroup(Base):
    """Alerts sharing a group key join the one open incident of their group."""

    __tablename__ = "alert_groups"
    __table_args__ = (
        Index(
            "uq_alert_groups_open_key",
            "group_key",
            unique=True,
            sqlite_where=text("is_open"),
            postgresql_where=text("is_open"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_key: Mapped[str] = mapped_column(String(512), nullable=False)
    is_open: Mapped[bool] = mapped_column(Boolean, nullable=False)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Silence(Base):
    """A time-bounded set of matchers: matching alerts are stored but open no incident."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_ends_at", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matchers: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expired_by: Mapped[str | None] = mapped_column(String(64))


class SeenDelivery(Base):
    """A signed delivery's id, kept a while so that a replay or a retry changes nothing."""

    __tablename__ = "seen_deliveries"
    __table_args__ = (
        # The key decides between concurrent copies of one delivery: one insert wins.
        UniqueConstraint("source", "delivery_id"),
        Index("ix_seen_deliveries_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    delivery_id: Mapped[str] = mapped_column(String(255), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Storm(Base):
    """Many new incidents at once in one scope (a service or a policy), bundled under a parent.

    At most one storm is open per scope; it ends when no incident has joined it for its
    window, or when its parent incident is no longer open.
    """

    __tablename__ = "storms"
    __table_args__ = (
        Index(
            "uq_storms_open_scope",
            "scope",
            unique=True,
            sqlite_where=text("is_open"),
            postgresql_where=text("is_open"),
        ),
        Index("ix_storms_parent_number", "parent_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), nullable=False)  # service:ID or policy:ID
    parent_number: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    members: Mapped[int] = mapped_column(Integer, nullable=False)
    is_open: Mapped[bool] = mapped_column(Boolean, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Heartbeat(Base):
    """One configured heartbeat's state: when it last pinged, and the incident its silence opened.

    `due_at` (the last ping plus interval and grace) is what the engine selects on, so a tick
    over thousands of heartbeats reads only the ones that fell silent.
    """

    __tablename__ = "heartbeats"
    __table_args__ = (Index("ix_heartbeats_state_due_at", "state", "due_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the id in warroom.yaml
    # waiting (no ping yet), up, down (its incident is open), recovering (pinging again,
    # inside the verification window), retired (no longer in warroom.yaml)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    timeout_seconds: Mapped[int] = mapped_column(Integer, nullable=False)  # interval + grace
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pings: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    incident_number: Mapped[int | None] = mapped_column(Integer)
    down_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolve_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # recovering: window end
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
