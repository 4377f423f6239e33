"""seen_deliveries: the ids of signed PagerDuty and Jira deliveries, so a replay changes nothing

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seen_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seen_deliveries")),
        sa.UniqueConstraint("source", "delivery_id", name=op.f("uq_seen_deliveries_source")),
    )
    with op.batch_alter_table("seen_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_seen_deliveries_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("seen_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_seen_deliveries_received_at")
    op.drop_table("seen_deliveries")
