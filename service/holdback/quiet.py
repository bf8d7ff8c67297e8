"""The quiet period after an override: a Monitor or Hold finding a clinician overrode with a reason (a coded reason
or a comment) is not shown again for the same patient for a while. Read from the recorded cards and feedback."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, or_, select

from service.storage.database import Database
from service.storage.models import feedback, issued_findings

QUIETABLE = ("monitor", "hold")
"""Advice that may be quieted: never Avoid."""


def overridden(db: Database, patient_hash: str, hashes: Collection[str], since: datetime) -> set[str]:
    """Those of ``hashes`` that a clinician overrode with a reason for this patient since ``since``. Raises
    ``Unavailable`` when the database cannot be read."""
    if not hashes:
        return set()
    query = (
        select(issued_findings.c.finding_hash)
        .join(feedback, feedback.c.card_uuid == issued_findings.c.card_uuid)
        .where(
            and_(
                issued_findings.c.patient_hash == patient_hash,
                issued_findings.c.finding_hash.in_(list(hashes)),
                issued_findings.c.advice.in_(QUIETABLE),
                feedback.c.outcome == "overridden",
                or_(feedback.c.override_code.is_not(None), feedback.c.user_comment.is_not(None)),
                feedback.c.outcome_timestamp >= since,
            )
        )
        .distinct()
    )
    with db.transaction() as connection:
        return {row[0] for row in connection.execute(query)}
