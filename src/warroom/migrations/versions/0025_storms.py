"""alert storms: incidents may belong to a storm's parent incident; one open storm per scope

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A number, not a foreign key: the parent is opened after its first members, and copies
    # (warroom db copy, restore) insert incidents in number order.
    op.add_column("incidents", sa.Column("parent_number", sa.Integer(), nullable=True))
    op.create_index("ix_incidents_parent_number", "incidents", ["parent_number"])
    op.create_table(
        "storms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("parent_number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storms")),
    )
    op.create_index(
        "uq_storms_open_scope",
        "storms",
        ["scope"],
        unique=True,
        sqlite_where=sa.text("is_open"),
        postgresql_where=sa.text("is_open"),
    )
    op.create_index("ix_storms_parent_number", "storms", ["parent_number"])


def downgrade() -> None:
    op.drop_index("ix_storms_parent_number", table_name="storms")
    op.drop_index("uq_storms_open_scope", table_name="storms")
    op.drop_table("storms")
    op.drop_index("ix_incidents_parent_number", table_name="incidents")
    op.drop_column("incidents", "parent_number")
