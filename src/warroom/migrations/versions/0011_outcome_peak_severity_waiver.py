"""incidents.peak_severity, outcome (false alarm) and a postmortem's waiver

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peak_severity", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("outcome_reason", sa.Text(), nullable=True))
    # The history before this revision is not replayed: the current severity is the best
    # known peak (the timeline still shows every change).
    op.execute("UPDATE incidents SET peak_severity = severity")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.alter_column("peak_severity", existing_type=sa.String(16), nullable=False)
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waived_by", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("waived_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.drop_column("waived_reason")
        batch_op.drop_column("waived_by")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("outcome_reason")
        batch_op.drop_column("outcome")
        batch_op.drop_column("peak_severity")
