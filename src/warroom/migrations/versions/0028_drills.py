"""drills: practice incidents (incidents.drill_id), their runs and timed steps

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
# 0026 (heartbeats) and 0027 (search) are reserved by other branches: rechained at merge.
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("allow", sa.JSON(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_number", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drills")),
    )
    op.create_table(
        "drill_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["drill_id"],
            ["drills.id"],
            name=op.f("fk_drill_steps_drill_id_drills"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill_steps")),
    )
    # The engine's question: which steps are due and not done yet.
    op.create_index(
        "ix_drill_steps_due",
        "drill_steps",
        ["due_at"],
        sqlite_where=sa.text("done_at IS NULL"),
        postgresql_where=sa.text("done_at IS NULL"),
    )
    op.create_index("ix_drill_steps_drill_id", "drill_steps", ["drill_id"])
    op.add_column("incidents", sa.Column("drill_id", sa.Integer(), nullable=True))
    op.create_index("ix_incidents_drill_id", "incidents", ["drill_id"])


def downgrade() -> None:
    op.drop_index("ix_incidents_drill_id", table_name="incidents")
    op.drop_column("incidents", "drill_id")
    op.drop_index("ix_drill_steps_drill_id", table_name="drill_steps")
    op.drop_index("ix_drill_steps_due", table_name="drill_steps")
    op.drop_table("drill_steps")
    op.drop_table("drills")
