"""The tables: every card the service issued, and every piece of feedback clinicians' actions produced.

No patient identifier is stored in clear: an issued card keeps at most a keyed hash of the patient id.
Feedback is not tied to issued cards by a foreign key, so feedback for a card this database never saw (issued
while it was down, or by a replica with another database) is kept rather than lost.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

issued_cards = Table(
    "issued_cards",
    metadata,
    Column("card_uuid", String(128), primary_key=True),
    Column("service_id", String(64), nullable=False),
    Column("hook_instance", Text, nullable=False),
    Column("rule_id", String(128)),
    Column("advice", String(16)),
    Column("notice", String(64)),
    Column("knowledge_version", String(64), nullable=False),
    Column("patient_hash", String(64)),
    Column("issued_at", DateTime(timezone=True), nullable=False),
)

issued_findings = Table(
    "issued_findings",
    metadata,
    Column("card_uuid", String(128), primary_key=True),
    Column("finding_hash", String(64), primary_key=True),
    Column("rule_id", String(128), nullable=False),
    Column("advice", String(16), nullable=False),
    Column("patient_hash", String(64)),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Index("ix_issued_findings_patient_finding", "patient_hash", "finding_hash"),
)
"""The findings each issued card showed (a combined Monitor card shows several), by a hash of what makes two
findings the same (rule, ordered drug, advice, co-medications or condition): what an override quiets."""

held_back = Table(
    "held_back",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("service_id", String(64), nullable=False),
    Column("hook_instance", Text, nullable=False),
    Column("rule_id", String(128), nullable=False),
    Column("advice", String(16), nullable=False),
    Column("finding_hash", String(64), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("knowledge_version", String(64), nullable=False),
    Column("patient_hash", String(64)),
    Column("held_at", DateTime(timezone=True), nullable=False),
)
"""Every finding not shown, and why (``repeated-alert``, ``quiet-after-override``): an audit sees what the
clinician did not."""

feedback = Table(
    "feedback",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("card_uuid", String(128), nullable=False, index=True),
    Column("service_id", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("outcome_timestamp", DateTime(timezone=True), nullable=False),
    Column("accepted_suggestions", Text, nullable=False),
    Column("override_system", String(1024)),
    Column("override_code", String(256)),
    Column("override_display", String(1024)),
    Column("user_comment", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
