"""The first schema: methods, submissions, results, breakdowns, literature.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "methods",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("paper_url", sa.String(500)),
        sa.Column("code_url", sa.String(500)),
        sa.Column("venue", sa.String(100)),
        sa.Column("year", sa.Integer()),
        sa.Column("supervision", sa.String(40)),
        sa.Column("training_data", sa.String(200)),
        sa.Column("input_2d", sa.String(40)),
        sa.Column("notes", sa.Text()),
        sa.Column("is_baseline", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("method_id", sa.Integer(), sa.ForeignKey("methods.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("dataset", sa.String(40), nullable=False),
        sa.Column("units", sa.String(8), nullable=False),
        sa.Column("joint_set", sa.String(40), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("harness_version", sa.String(40), nullable=False),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("evaluated_at", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("method_id", "sha256", name="uq_submission_method_sha256"),
    )
    op.create_index("ix_submissions_method_id", "submissions", ["method_id"])
    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("benchmark", sa.String(40), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("aggregation", sa.String(20), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("higher_is_better", sa.Boolean(), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("ci_low", sa.Float()),
        sa.Column("ci_high", sa.Float()),
        sa.Column("joints", sa.String(40), nullable=False),
        sa.Column("alignment", sa.String(60), nullable=False),
        sa.Column("gt", sa.String(40), nullable=False),
        sa.Column("dataset", sa.String(40), nullable=False),
        sa.Column("split", sa.String(20), nullable=False),
        sa.Column("frames", sa.String(300), nullable=False),
        sa.Column("root", sa.String(40), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("submission_id", "benchmark", "metric", "aggregation", name="uq_result_cell"),
    )
    op.create_index("ix_results_submission_id", "results", ["submission_id"])
    op.create_index("ix_results_benchmark", "results", ["benchmark"])
    op.create_table(
        "breakdowns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("benchmark", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.UniqueConstraint("submission_id", "benchmark", "kind", name="uq_breakdown"),
    )
    op.create_index("ix_breakdowns_submission_id", "breakdowns", ["submission_id"])
    op.create_table(
        "literature",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("method_id", sa.Integer(), sa.ForeignKey("methods.id", ondelete="CASCADE"), nullable=False),
        sa.Column("benchmark", sa.String(40), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("input_2d", sa.String(40), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("protocol_notes", sa.Text()),
        sa.Column("unknown", sa.Text()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.UniqueConstraint("method_id", "benchmark", "metric", "input_2d", name="uq_literature_cell"),
    )
    op.create_index("ix_literature_method_id", "literature", ["method_id"])


def downgrade() -> None:
    for table in ("literature", "breakdowns", "results", "submissions", "methods"):
        op.drop_table(table)
