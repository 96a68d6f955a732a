"""The leaderboard as a service: accounts, submissions made through the page and their queue state, limits,
worker heartbeats; stored submissions get an owner and a visibility.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(200), nullable=False),
        sa.Column("email", sa.String(300), unique=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("'1'")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("benchmark", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("log", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(200)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id", ondelete="SET NULL"), unique=True),
    )
    op.create_index("ix_jobs_user_id", "jobs", ["user_id"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_benchmark", "jobs", ["benchmark"])
    op.create_table(
        "job_files",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "limits",
        sa.Column("benchmark", sa.String(40), primary_key=True),
        sa.Column("per_day", sa.Integer(), nullable=False),
        sa.Column("concurrent", sa.Integer(), nullable=False),
    )
    op.create_table(
        "worker_beats",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.Integer()),
    )
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_submissions_owner", ondelete="SET NULL")))
        batch.add_column(sa.Column("published", sa.Boolean(), nullable=False, server_default=sa.text("'1'")))
        batch.add_column(sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.text("'0'")))
        batch.create_index("ix_submissions_owner_id", ["owner_id"])


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_owner_id")
        batch.drop_constraint("fk_submissions_owner", type_="foreignkey")
        batch.drop_column("hidden")
        batch.drop_column("published")
        batch.drop_column("owner_id")
    op.drop_table("worker_beats")
    op.drop_table("limits")
    op.drop_table("job_files")
    op.drop_index("ix_jobs_benchmark", "jobs")
    op.drop_index("ix_jobs_status", "jobs")
    op.drop_index("ix_jobs_user_id", "jobs")
    op.drop_table("jobs")
    op.drop_table("users")
