"""incident_grants: people let into a restricted incident (granted, or paged for it)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("granted_by", sa.String(length=64), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_grants_incident_id_incidents"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_grants")),
        sa.UniqueConstraint("incident_id", "person", name="uq_incident_grants_incident_id_person"),
    )
    with op.batch_alter_table("incident_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_grants_person_incident_id", ["person", "incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_grants_person_incident_id")
    op.drop_table("incident_grants")
