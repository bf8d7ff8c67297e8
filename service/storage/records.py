"""Writing issued cards and feedback: each call one transaction, repeats ignored (insert, or nothing on conflict)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from cds_hooks.feedback import CardOrigin, Feedback
from service.storage.database import Database
from service.storage.models import feedback, issued_cards


def issued_rows(
    service_id: str,
    hook_instance: str,
    patient_hash: str | None,
    origins: Iterable[CardOrigin],
    issued_at: datetime,
) -> list[dict[str, Any]]:
    """The rows recording the cards one hook call answered with."""
    return [
        {
            "card_uuid": origin.uuid,
            "service_id": service_id,
            "hook_instance": hook_instance,
            "rule_id": origin.rule_id,
            "advice": origin.advice,
            "notice": origin.notice,
            "knowledge_version": origin.knowledge_version,
            "patient_hash": patient_hash,
            "issued_at": issued_at,
        }
        for origin in origins
    ]


def save_issued(db: Database, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record issued cards (of one or many hook calls) in one transaction; a card already recorded is kept.

    One statement executed for many rows: it is compiled once per process, whatever the number of rows.
    """
    if not rows:
        return
    with db.transaction() as connection:
        connection.execute(_insert_or_ignore(connection, issued_cards, "card_uuid"), list(rows))


def save_feedback(db: Database, service_id: str, items: Sequence[Feedback], received_at: datetime) -> int:
    """Store every item of one feedback request, all or none; the number new (repeats are not stored twice)."""
    rows = [_feedback_row(service_id, item, received_at) for item in items]
    with db.transaction() as connection:
        return _insert_new(connection, feedback, rows, "fingerprint")


def _feedback_row(service_id: str, item: Feedback, received_at: datetime) -> dict[str, Any]:
    reason = item.override_reason
    return {
        "fingerprint": item.fingerprint(),
        "card_uuid": item.card,
        "service_id": service_id,
        "outcome": item.outcome,
        "outcome_timestamp": item.outcome_timestamp,
        "accepted_suggestions": json.dumps(sorted(set(item.accepted_suggestions))),
        "override_system": reason.system if reason else None,
        "override_code": reason.code if reason else None,
        "override_display": reason.display if reason else None,
        "user_comment": reason.user_comment if reason else None,
        "received_at": received_at,
    }


def _insert_or_ignore(connection: Connection, table: Table, key: str) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=[key])


def _insert_new(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str) -> int:
    if not rows:
        return 0
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(list(rows)).on_conflict_do_nothing(index_elements=[key])
    return len(connection.execute(statement.returning(table.c[key])).all())
