"""api_tokens.scopes and expires_at; users.service_account

Tokens made before this revision could read and write: they keep the scopes `read write`
and no expiry. Users made before it are taken for people (not service accounts), except
the first start's `admin`, which no warroom.yaml person is.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_account", sa.Boolean(), nullable=True))
    op.execute("UPDATE api_tokens SET scopes = 'read write'")
    op.execute("UPDATE users SET service_account = (name = 'admin' AND password_hash IS NOT NULL)")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("scopes", existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("service_account", existing_type=sa.Boolean(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("service_account")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scopes")
