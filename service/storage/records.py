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
from service.storage.models import feedback, held_back, issued_cards, issued_findings

HELD_BACK = "held_back"
"""Marks a row of the recorder's queue as a finding held back, not an issued card."""


def issued_rows(
    service_id: str,
    hook_instance: str,
    patient_hash: str | None,
    origins: Iterable[CardOrigin],
    issued_at: datetime,
) -> list[dict[str, Any]]:
    """The rows recording the cards one hook call answered with, each with the rows of the findings it shows."""
    return [
        {
            "findings": [
                {"card_uuid": origin.uuid, "finding_hash": finding_hash, "rule_id": rule_id, "advice": advice,
                 "patient_hash": patient_hash, "issued_at": issued_at}
                for finding_hash, rule_id, advice in origin.findings
            ],
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


MAX_ROWS_PER_STATEMENT = 256
"""The most rows one multi-row INSERT on SQLite carries: 2,304 parameters, well inside what it accepts."""
ROWS_PER_ARRAY = 64
"""Rows per PostgreSQL INSERT: the driver turns a statement's arrays into wire format in one go, holding the
interpreter all the while, so a 500-row statement kept the request threads waiting for milliseconds."""


def held_back_rows(
    service_id: str,
    hook_instance: str,
    patient_hash: str | None,
    held: Iterable[tuple[str, str, str, str]],
    knowledge_version: str,
    held_at: datetime,
) -> list[dict[str, Any]]:
    """Rows recording the findings one hook call held back: (finding hash, rule id, advice, reason) each."""
    return [
        {HELD_BACK: True, "service_id": service_id, "hook_instance": hook_instance, "rule_id": rule_id,
         "advice": advice, "finding_hash": finding_hash, "reason": reason, "knowledge_version": knowledge_version,
         "patient_hash": patient_hash, "held_at": held_at}
        for finding_hash, rule_id, advice, reason in held
    ]


def save_issued(db: Database, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record issued cards with their findings, and held-back findings (``held_back_rows``), in one transaction."""
    cards = [row for row in rows if HELD_BACK not in row]
    findings = [finding for row in cards for finding in row.get("findings", ())]
    held = [{key: value for key, value in row.items() if key != HELD_BACK} for row in rows if HELD_BACK in row]
    with db.transaction() as connection:
        _save_cards(connection, cards)
        if findings:
            _save_rows(connection, issued_findings, findings, "card_uuid, finding_hash")
        if held:
            connection.execute(held_back.insert(), held)


def _save_cards(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record issued cards (of one or many hook calls) in one transaction; a card already recorded is kept.

    Rows are written by the recorder's thread, and whatever that thread does in Python the request threads of
    its process wait for; so each database gets its cheapest way. PostgreSQL: INSERTs of up to ``ROWS_PER_ARRAY``
    rows unnested from one array per column (``_insert_unnested``), about half the time per row of an INSERT
    executed for many rows, with nothing but INSERT on the table needed. SQLite: a few multi-row INSERTs
    (``statement_sizes``), since its driver lets go of the interpreter for every row it executes and each
    hand-over costs the request threads a wait.
    """
    _save_rows(connection, issued_cards, rows, "card_uuid")


def _save_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str) -> None:
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        for start in range(0, len(rows), ROWS_PER_ARRAY):
            _insert_unnested(connection, table, rows[start : start + ROWS_PER_ARRAY], key)
        return
    start = 0
    for size in statement_sizes(len(rows)):
        _insert_rows_at_once(connection, table, rows[start : start + size], key)
        start += size


def _insert_unnested(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str) -> None:
    """PostgreSQL: ``INSERT ... SELECT * FROM unnest(%s::<type>[], ...) ON CONFLICT DO NOTHING``, one array of
    values per column, each array cast to the column's own type."""
    columns = list(table.columns)
    arrays = ", ".join(f"%s::{column.type.compile(dialect=connection.dialect)}[]" for column in columns)
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(column.name for column in columns)}) "
        f"SELECT * FROM unnest({arrays}) ON CONFLICT ({key}) DO NOTHING",
        tuple([row[column.name] for row in rows] for column in columns),
    )


def statement_sizes(rows: int) -> list[int]:
    """How many rows each multi-row INSERT of a batch carries: powers of two, largest first.

    The driver keeps every distinct statement it has prepared (a statement of hundreds of rows holds hundreds of
    kilobytes), so a statement per batch size, batches coming in every size, grew each worker by tens of
    megabytes. Powers of two make at most nine distinct statements, whatever the batches.

    >>> statement_sizes(500), statement_sizes(3), statement_sizes(0)
    ([256, 128, 64, 32, 16, 4], [2, 1], [])
    """
    sizes, size = [], MAX_ROWS_PER_STATEMENT
    while rows:
        while size > rows:
            size //= 2
        sizes.append(size)
        rows -= size
    return sizes


def _insert_rows_at_once(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str) -> None:
    """``INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING`` for ``rows``, as one execution."""
    columns = list(table.columns)
    convert = [column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect) for column in columns]
    group = "(" + ", ".join("?" * len(columns)) + ")"
    values = tuple(
        value if process is None else process(value)
        for row in rows
        for column, process in zip(columns, convert, strict=True)
        for value in (row[column.name],)
    )
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(column.name for column in columns)}) "
        f"VALUES {', '.join([group] * len(rows))} ON CONFLICT ({key}) DO NOTHING",
        values,
    )


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


def _insert_new(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str) -> int:
    if not rows:
        return 0
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(list(rows)).on_conflict_do_nothing(index_elements=[key])
    return len(connection.execute(statement.returning(table.c[key])).all())
