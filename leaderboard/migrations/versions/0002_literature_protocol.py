"""Literature rows get their structured protocol fields (joints, frames, scale and Procrustes rules, ...).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("literature") as batch:
        batch.add_column(sa.Column("protocol", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("literature") as batch:
        batch.drop_column("protocol")
