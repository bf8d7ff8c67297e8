"""Issued cards and feedback.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_cards",
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.String(128)),
        sa.Column("advice", sa.String(16)),
        sa.Column("notice", sa.String(64)),
        sa.Column("knowledge_version", sa.String(64), nullable=False),
        sa.Column("patient_hash", sa.String(64)),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("card_uuid", name="pk_issued_cards"),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_suggestions", sa.Text(), nullable=False),
        sa.Column("override_system", sa.String(1024)),
        sa.Column("override_code", sa.String(256)),
        sa.Column("override_display", sa.String(1024)),
        sa.Column("user_comment", sa.Text()),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint("fingerprint", name="uq_feedback_fingerprint"),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_index("ix_feedback_card_uuid", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("issued_cards")
