"""Issued-card rows are stored exactly as an ordinary SQLAlchemy insert stores them, however many come at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, select

from cds_hooks.feedback import CardOrigin
from service.storage import records
from service.storage.database import Database
from service.storage.models import issued_cards
from service.storage.records import issued_rows, save_issued

T0 = datetime(2026, 11, 21, 9, 30, 15, 123456, tzinfo=UTC)


def _rows(prefix: str, count: int) -> list[dict]:
    origins = [CardOrigin(f"{prefix}-{n}", "2026.11.2", "maoi" if n % 3 else None, "avoid" if n % 3 else None,
                          None if n % 3 else "data-incomplete") for n in range(count)]
    return issued_rows("ketamine-order-sign", f"hook-{prefix}", "a" * 64 if count % 2 else None, origins,
                       T0 + timedelta(seconds=count))


def _stored(database: Database, prefix: str) -> dict[str, tuple]:
    """The rows whose card uuid starts with ``prefix``, by the rest of the uuid, without uuid and hook instance."""
    with database.engine.connect() as connection:
        found = connection.execute(select(issued_cards).where(issued_cards.c.card_uuid.like(f"{prefix}-%")))
        return {
            row.card_uuid.removeprefix(prefix): tuple(
                value for name, value in row._mapping.items() if name not in ("card_uuid", "hook_instance")
            )
            for row in found
        }


@pytest.fixture
def database(database_url):
    database = Database(database_url)
    database.upgrade()
    yield database
    database.engine.dispose()


def test_rows_saved_in_many_statements_read_back_as_a_plain_insert_stores_them(database, monkeypatch):
    monkeypatch.setattr(records, "MAX_ROWS_PER_STATEMENT", 8)
    reference, saved = _rows("plain", 23), _rows("saved", 23)
    with database.engine.begin() as connection:
        connection.execute(insert(issued_cards), reference)
    save_issued(database, saved)
    assert len(_stored(database, "saved")) == 23
    assert _stored(database, "saved") == _stored(database, "plain")


def test_batches_of_every_size_are_written_by_a_few_distinct_statements(database):
    statements: set[str] = set()

    def seen(connection, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT"):
            statements.add(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    for count in range(1, 301):
        save_issued(database, _rows(f"size{count}", count))
    assert sum(len(_stored(database, f"size{count}")) for count in (1, 2, 99, 300)) == 1 + 2 + 99 + 300
    assert len(statements) <= (9 if database.engine.dialect.name == "sqlite" else 1)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 255, 256, 257, 500, 1000])
def test_statement_sizes_cover_the_batch_in_powers_of_two_none_larger_than_the_bound(count):
    sizes = records.statement_sizes(count)
    assert sum(sizes) == count
    assert all(size & (size - 1) == 0 and size <= records.MAX_ROWS_PER_STATEMENT for size in sizes)
    assert sizes == sorted(sizes, reverse=True)


def test_a_card_recorded_twice_is_kept_once_with_its_first_values(database):
    first = _rows("twice", 3)
    save_issued(database, first)
    again = [{**row, "rule_id": "changed"} for row in first] + _rows("new", 1)
    save_issued(database, again)
    stored = _stored(database, "twice")
    assert [stored[f"-{n}"][1] for n in range(3)] == [None, "maoi", "maoi"]
    assert len(_stored(database, "new")) == 1


def test_a_batch_the_database_refuses_is_reported_refused_not_unavailable_and_the_next_one_is_written(database):
    from service.failures import Refused

    refused = _rows("refused", 2)
    refused[1]["service_id"] = None  # a column that must have a value
    with pytest.raises(Refused):
        save_issued(database, refused)
    assert _stored(database, "refused") == {}
    save_issued(database, _rows("after", 3))
    assert len(_stored(database, "after")) == 3


def test_a_card_twice_in_one_batch_is_kept_once_with_its_first_values(database):
    first = _rows("inbatch", 2)
    save_issued(database, [*first, {**first[1], "rule_id": "changed"}])
    stored = _stored(database, "inbatch")
    assert len(stored) == 2 and stored["-1"][1] == "maoi"
