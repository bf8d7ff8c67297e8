"""The schema: migrations shipped in the package build exactly the tables the code uses, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect

from service.cli import main
from service.failures import Unavailable
from service.storage.database import BACKOFF_SECONDS, Database, engine_url
from service.storage.models import metadata
from tests.auth.auth_helpers import Clock


def test_the_migrations_build_the_tables_the_models_describe(database_url):
    database = Database(database_url)
    assert database.upgrade() == "0002"
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    database.engine.dispose()


def test_upgrading_twice_changes_nothing(database_url):
    database = Database(database_url)
    database.upgrade()
    assert database.upgrade() == "0002"
    assert {"issued_cards", "feedback", "alembic_version"} <= set(inspect(database.engine).get_table_names())
    database.engine.dispose()


def test_the_db_upgrade_command_migrates_the_configured_database(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["db", "upgrade"]) == 0
    assert "at revision 0002" in capsys.readouterr().out


def test_the_db_upgrade_command_says_when_the_database_is_unreachable(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:secret@127.0.0.1:1/test")
    assert main(["db", "upgrade"]) == 1
    error = capsys.readouterr().err
    assert "cannot be migrated" in error
    assert "secret" not in error


def test_the_embedded_default_is_an_sqlite_file_under_var():
    assert engine_url(None) == "sqlite:///var/ketamine-cds.sqlite3"


def test_postgresql_urls_are_read_with_psycopg_3():
    assert engine_url("postgres://db/cds") == engine_url("postgresql://db/cds") == "postgresql+psycopg://db/cds"
    assert engine_url("postgresql+psycopg://db/cds") == "postgresql+psycopg://db/cds"


def test_a_fresh_folder_for_the_sqlite_file_is_created(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/new/folder/cds.sqlite3")
    database.upgrade()
    assert (tmp_path / "new" / "folder" / "cds.sqlite3").is_file()
    database.engine.dispose()


def test_a_database_unreachable_at_start_up_is_migrated_once_it_answers(tmp_path):
    clock = Clock()
    database = Database(f"sqlite:///{tmp_path}/later/cds.sqlite3", clock=clock)
    (tmp_path / "later" / "cds.sqlite3").mkdir()
    assert not database.prepare()
    (tmp_path / "later" / "cds.sqlite3").rmdir()
    clock.now += BACKOFF_SECONDS
    assert database.prepare()
    database.engine.dispose()


def test_an_unreachable_database_is_left_alone_for_a_while_so_calls_fail_fast(tmp_path):
    clock, attempts = Clock(), []
    database = Database(f"sqlite:///{tmp_path}/cds.sqlite3", clock=clock)
    (tmp_path / "cds.sqlite3").mkdir()
    event.listen(database.engine, "do_connect", lambda *args: attempts.append(clock.now))
    for _ in range(3):
        with pytest.raises(Unavailable), database.transaction():
            pass
    clock.now += BACKOFF_SECONDS
    with pytest.raises(Unavailable), database.transaction():
        pass
    assert attempts == [1000.0, 1000.0 + BACKOFF_SECONDS]
    database.engine.dispose()


def _migrate_when_all_are_ready(url: str, barrier: Any, outcomes: Any) -> None:
    database = Database(url)
    barrier.wait()
    try:
        outcomes.put(database.upgrade())
    except Exception as error:
        outcomes.put(type(error).__name__)


def test_processes_starting_together_on_a_fresh_sqlite_file_all_find_it_migrated(tmp_path):
    """gunicorn's workers each migrate at start-up, at the same moment; on SQLite a file lock takes them in turn."""
    context = multiprocessing.get_context("spawn")
    results = []
    for round_ in range(2):
        url = f"sqlite:///{tmp_path}/round-{round_}/cds.sqlite3"
        barrier, outcomes = context.Barrier(4), context.Queue()
        workers = [context.Process(target=_migrate_when_all_are_ready, args=(url, barrier, outcomes)) for _ in range(4)]
        for worker in workers:
            worker.start()
        results += [outcomes.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)

    assert results == ["0002"] * 8


def test_a_forked_process_opens_connections_of_its_own_and_leaves_the_parents_alone(database_url):
    """gunicorn forks its workers from the master that migrated the database: the connection the master keeps in
    its pool must not be used by a worker too (two processes on one connection would mix their statements)."""
    database = Database(database_url)
    database.ping()
    assert database.engine.pool.checkedin() == 1
    child = os.fork()
    if child == 0:  # the child reports by its exit code alone: nothing of pytest may run here
        try:
            inherited = database.engine.pool.checkedin()
            database.ping()
            os._exit(0 if inherited == 0 and database.engine.pool.checkedin() == 1 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert database.engine.pool.checkedin() == 1
    database.ping()
    database.engine.dispose()
