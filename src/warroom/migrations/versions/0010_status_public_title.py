"""status_updates.public_title: the incident's name on public surfaces, chosen by a person

Public updates posted before this revision showed the incident's own title; they keep it as
their public title, so what the public already read does not change.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("status_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_title", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE status_updates SET public_title = (SELECT incidents.title FROM incidents"
        " WHERE incidents.id = status_updates.incident_id) WHERE public"
    )
    with op.batch_alter_table("status_updates", schema=None) as batch_op:
        batch_op.create_check_constraint(
            "public_has_title", "NOT public OR public_title IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("status_updates", schema=None) as batch_op:
        batch_op.drop_constraint("public_has_title", type_="check")
        batch_op.drop_column("public_title")
