"""The incident aggregate: the incident row, its append-only timeline, checklist and roles."""

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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from warroom.storage.base import Base, UTCDateTime


class Incident(Base):
    """One incident, from detection to close."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_number", "status", "number"),
        Index("ix_incidents_severity_number", "severity", "number"),
        Index("ix_incidents_service_number", "service", "number"),
        Index("ix_incidents_type_number", "incident_type", "number"),
        Index("ix_incidents_detected_at", "detected_at"),
        Index("ix_incidents_parent_number", "parent_number"),
        Index("ix_incidents_drill_id", "drill_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)
    slug: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    # The highest severity it ever had: the postmortem requirement follows it (a resolved
    # SEV-1 lowered to SEV-4 still owes its postmortem).
    peak_severity: Mapped[str] = mapped_column(String(16), nullable=False)
    # None for a real incident; "false_alarm" when it turned out to be none (counted apart).
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    # A viewer's report opens at its type's default severity, keeps the severity the viewer
    # suggested here, and pages nobody (paging_held) until a responder triages it.
    suggested_severity: Mapped[str | None] = mapped_column(String(16))
    paging_held: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    incident_type: Mapped[str] = mapped_column(String(64), nullable=False)
    service: Mapped[str | None] = mapped_column(String(64))
    commander: Mapped[str | None] = mapped_column(String(64))
    # A proposed new IC: the current one stays in charge until this person accepts.
    pending_commander: Mapped[str | None] = mapped_column(String(64))
    impact: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str | None] = mapped_column(String(16))
    visibility: Mapped[str] = mapped_column(String(16), nullable=False, default="public")
    # Where responders meet: chat channel, conference room, status page incident (notify/).
    links: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    runbook_template: Mapped[str | None] = mapped_column(String(128))
    owner: Mapped[str | None] = mapped_column(String(64))
    module: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    # The storm incident this one is bundled under (detection/storms.py): it pages for all
    # of them, and acknowledging it acknowledges them. A number, as the parent comes later.
    parent_number: Mapped[int | None] = mapped_column(Integer)
    # A practice incident (drills/): the drill run it belongs to. None for a real incident.
    drill_id: Mapped[int | None] = mapped_column(Integer)

    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the linked alerts had stayed resolved for the verification window (None: not yet).
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    timeline: Mapped[list[TimelineEvent]] = relationship(
        back_populates="incident", order_by="TimelineEvent.id", lazy="raise_on_sql"
    )
    checklist: Mapped[list[ChecklistItem]] = relationship(
        back_populates="incident",
        order_by="(ChecklistItem.section_position, ChecklistItem.position)",
        lazy="raise_on_sql",
    )

    @property
    def ref(self) -> str:
        """Return the human reference, `INC-<n>`."""
        return f"INC-{self.number}"

    @property
    def drill(self) -> bool:
        """Tell whether this is a practice incident (marked DRILL, kept out of metrics)."""
        return self.drill_id is not None


class TimelineEvent(Base):
    """Something that happened to an incident; never updated or deleted."""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_incident_id_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="RESTRICT"), nullable=False
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    key_event: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    incident: Mapped[Incident] = relationship(back_populates="timeline")


class ChecklistItem(Base):
    """A step from the runbook template's Containment / Remediation / Verification lists."""

    __tablename__ = "checklist_items"
    __table_args__ = (Index("ix_checklist_items_incident_id", "incident_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="RESTRICT"), nullable=False
    )
    section: Mapped[str] = mapped_column(String(64), nullable=False)
    section_position: Mapped[int] = mapped_column(Integer, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    owner: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(64))
    skipped_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship(back_populates="checklist")


class IncidentRole(Base):
    """Someone holding a role in an incident, from `since` until `until` (None: still).

    The rules on roles live in triage/roles.py; the row stays beside the aggregate because
    the incident's detail, the postmortem and the escalation cadence read it.
    """

    __tablename__ = "incident_roles"
    __table_args__ = (
        Index("ix_incident_roles_incident_id", "incident_id"),
        # The visibility rule asks "does this person hold or did they hold a role here":
        # by person, the caller's roles are found without reading the whole table.
        Index("ix_incident_roles_person_incident_id", "person", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="RESTRICT"), nullable=False
    )
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    person: Mapped[str] = mapped_column(String(64), nullable=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_by: Mapped[str | None] = mapped_column(String(64))


class IncidentGrant(Base):
    """Someone let into a restricted incident: granted by a person, or paged for it."""

    __tablename__ = "incident_grants"
    __table_args__ = (
        # One way in per person is enough.
        UniqueConstraint("incident_id", "person", name="uq_incident_grants_incident_id_person"),
        Index("ix_incident_grants_person_incident_id", "person", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="RESTRICT"), nullable=False
    )
    person: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # grant | paged
    reason: Mapped[str | None] = mapped_column(Text)
    granted_by: Mapped[str | None] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
