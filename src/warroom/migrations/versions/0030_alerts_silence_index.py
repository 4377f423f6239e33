"""alerts: an index on silence_id, so that pruning ended silences does not scan every alert

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05

Retention deletes silences that ended long ago (config `retention.silences`). The alerts'
foreign key sets their silence_id to NULL then, and both SQLite and PostgreSQL look the
alerts up by that column: without an index, once per deleted silence, through every alert.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alerts_silence_id", "alerts", ["silence_id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_silence_id", table_name="alerts")
