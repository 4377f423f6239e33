"""An incident's escalation state: a row the engine advances, never memory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
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


class ContactMethod(Base):
    """A way to reach a person added through the API; used once its code was confirmed.

    Methods written in warroom.yaml need no row: the file is trusted as verified.
    """

    __tablename__ = "contact_methods"
    __table_args__ = (UniqueConstraint("person", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(32), nullable=False)  # named in rules' `via`
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # chat|email|sms|voice|push
    address: Mapped[str] = mapped_column(String(500), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    code_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the code sent
    code_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    code_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class PersonalRules(Base):
    """A person's own notification rules, set through the API (they win over warroom.yaml)."""

    __tablename__ = "personal_rules"

    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class PageRun(Base):
    """One person paged by one escalation step: their rules, the next one and when it is due.

    Like an escalation, a row the engine advances: a crash between two rule steps loses none
    and repeats none. `rules` is a snapshot (seconds after the start, methods with addresses),
    so a change of rules or numbers mid-page does not move a page already under way.
    """

    __tablename__ = "page_runs"
    __table_args__ = (
        UniqueConstraint("incident_id", "person", "loop", "step"),
        Index("ix_page_runs_state_next_at", "state", "next_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    person: Mapped[str] = mapped_column(String(64), nullable=False)
    loop: Mapped[int] = mapped_column(Integer, nullable=False)  # the escalation's round…
    step: Mapped[int] = mapped_column(Integer, nullable=False)  # …and step that paged them
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # next rule
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=ACTIVE)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(200))
    reply_code: Mapped[str] = mapped_column(String(8), nullable=False)  # "ack 4821" by SMS
    link_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SigningKey(Base):
    """A random key made by the migration; it signs the one-click acknowledge links."""

    __tablename__ = "signing_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), nullable=False)  # hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
