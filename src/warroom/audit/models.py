"""The audit log's rows: the entries, and the head of their hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from warroom.storage.base import Base, UTCDateTime

# SQLite's rowid alias must be INTEGER; PostgreSQL's BIGINT outlasts a busy decade.
SEQ = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    """One audited event; append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_seq", "actor", "seq"),
        Index("ix_audit_log_action_seq", "action", "seq"),
    )

    # The entry's place in the chain: 1, 2, 3… with no gaps, assigned under the head's lock.
    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    client: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)  # ok | denied | failed
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHead(Base):
    """The chain's newest position and hash: one row, locked by every append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    seq: Mapped[int] = mapped_column(SEQ, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
