"""Issued findings (what an override quiets) and held-back findings (what was not shown, and why).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_findings",
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("finding_hash", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(128), nullable=False),
        sa.Column("advice", sa.String(16), nullable=False),
        sa.Column("patient_hash", sa.String(64)),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("card_uuid", "finding_hash", name="pk_issued_findings"),
    )
    op.create_index("ix_issued_findings_patient_finding", "issued_findings", ["patient_hash", "finding_hash"])
    op.create_table(
        "held_back",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.String(128), nullable=False),
        sa.Column("advice", sa.String(16), nullable=False),
        sa.Column("finding_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("knowledge_version", sa.String(64), nullable=False),
        sa.Column("patient_hash", sa.String(64)),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_held_back"),
    )


def downgrade() -> None:
    op.drop_table("held_back")
    op.drop_index("ix_issued_findings_patient_finding", table_name="issued_findings")
    op.drop_table("issued_findings")
