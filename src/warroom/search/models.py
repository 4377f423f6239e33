"""The search index: one document per indexed row, written by the database itself.

Triggers (migration 0027) keep `search_documents` in step with incidents, timeline notes,
status updates, postmortems, action items and alerts, in the transaction that writes them:
no code path, ORM or Core, can forget it (docs/adr/016-search-index.md). The full-text
structures live beside it and outside the models: SQLite's FTS5 table `search_fts`, and on
PostgreSQL the generated `tsv` column with its GIN index.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from warroom.storage.base import Base

# What a document was made from, as the results name it.
KINDS = {
    "incident": "title and summary",
    "note": "timeline note",
    "status_update": "status update",
    "postmortem": "postmortem",
    "action_item": "action item",
    "alert": "alert",
}
# Schema objects of the index the models do not describe (the migration-check skips them).
FTS_TABLES = frozenset(
    {"search_fts", "search_fts_data", "search_fts_idx", "search_fts_docsize", "search_fts_config"}
)
PG_ONLY = frozenset({("column", "tsv"), ("index", "ix_search_documents_tsv")})


class SearchDocument(Base):
    """The searchable text of one row (`kind`, `source_id`) of one incident."""

    __tablename__ = "search_documents"
    __table_args__ = (
        UniqueConstraint("kind", "source_id", name="uq_search_documents_kind_source_id"),
        Index("ix_search_documents_incident_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    source_id: Mapped[int] = mapped_column(Integer, nullable=False)
    # The incident's title (ranked above the rest); empty for the other kinds.
    heading: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)


def compared(name: str | None, type_: str, parent: MutableMapping[Any, str | None]) -> bool:
    """Tell Alembic's comparison (`include_name`) to skip what the models leave out."""
    if type_ == "table" and name in FTS_TABLES:
        return False
    return not (parent.get("table_name") == "search_documents" and (type_, name) in PG_ONLY)
