"""incident_roles: an index by person, for the visibility rule's "holds or held a role"

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Without it PostgreSQL hashes the caller's roles by reading all of incident_roles on
    # every list a non-admin asks for (docs/adr/010-access-control-cost.md).
    with op.batch_alter_table("incident_roles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_roles_person_incident_id", ["person", "incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_roles", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_roles_person_incident_id")
