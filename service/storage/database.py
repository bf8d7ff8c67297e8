"""The database: an SQLite file by default, PostgreSQL (psycopg 3) when ``DATABASE_URL`` names one.

The schema is kept by Alembic migrations shipped in this package. They run at start-up in every process that
builds the app (gunicorn's master, before it forks the workers; each replica; unless ``CDS_DB_MIGRATE=off``) and
with ``ketamine-cds db upgrade``, one process at a time: on PostgreSQL under an advisory lock, on SQLite under a
lock on a file beside the database, so processes starting together do not all create the same tables; the first
migrates, the others find the schema current. A forked process opens connections of its own: those the parent
holds are left to the parent.

When the database cannot be reached at start-up the service still starts (cards do not depend on it), and the
migration is tried again before the next write (or readiness check). After a failure the database is left alone
for a few seconds (calls fail fast), so an unreachable server does not add its connect timeout to every clinical
answer.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from service.failures import NotReady, Refused, Unavailable

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///var/ketamine-cds.sqlite3"
"""Relative to the working directory, so ``make run`` keeps its data in the clone's ``var/`` (git-ignored)."""
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x6B65_7461_6D69
"""PostgreSQL advisory lock held while migrating, so replicas starting together migrate one at a time."""
CONNECT_TIMEOUT_SECONDS = 3
BACKOFF_SECONDS = 5.0
_UNAVAILABLE = "The feedback database is unavailable; nothing was stored. Try again later."
_REFUSED = "The database refused a value of this request, so nothing of it was stored; sending it again will not help."


def engine_url(raw: str | None) -> str:
    """``DATABASE_URL`` (or the embedded default) with ``postgres://`` and ``postgresql://`` read by psycopg 3."""
    url = raw or DEFAULT_URL
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Database:
    def __init__(
        self, url: str | None = None, *, migrate: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.url = make_url(engine_url(url))
        self.engine = _engine(self.url)
        _DATABASES.add(self)
        self._ready = not migrate
        self._lock = threading.Lock()
        self._clock = clock
        self._resting_until = 0.0

    @property
    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def upgrade(self) -> str | None:
        """Bring the schema to the newest migration; the revision it is at. Raises when it cannot."""
        from alembic import command  # here: a process that does not migrate is spared a fifth of a second
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with _sqlite_file_lock(self.url), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            revision = MigrationContext.configure(connection).get_current_revision()
        self._ready = True
        return revision

    def prepare(self) -> bool:
        """Migrate if that is still to do; False (logged) when the database cannot be reached or migrated."""
        with self._lock:
            if self._ready:
                return True
            if self._resting():
                return False
            try:
                self.upgrade()
            except Exception as error:  # any failure: the service runs on, feedback answers 503
                self._rest()
                log.error("database %s is not usable (%s); feedback is refused with 503 until it is",
                          self.safe_url, type(error).__name__)
                return False
            return True

    def ping(self) -> None:
        """Readiness: migrated (or migrating now) and answering ``SELECT 1``; NotReady otherwise. While the
        database rests after a failure it is not asked, and a failed ping makes it rest, so writes fail fast too."""
        if not self.prepare() or self._resting():
            raise NotReady("the database could not be reached or migrated; it is tried again in a few seconds")
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as error:
            self._rest()
            raise NotReady(f"the database does not answer ({type(error).__name__})") from None

    @contextmanager
    def transaction(self, unavailable: str = _UNAVAILABLE) -> Iterator[Connection]:
        """One transaction, committed when the block ends; Unavailable (503, with the message ``unavailable``: a
        write's by default) when the database cannot take it now, Refused (400) when it refuses the data itself
        (a value it cannot hold), which no retry would change."""
        if not self.prepare() or self._resting():
            raise Unavailable(unavailable)
        try:
            with self.engine.begin() as connection:
                yield connection
        except (DataError, IntegrityError) as error:
            log.error("database %s refused the data of a write (%s)", self.safe_url, type(error.orig).__name__)
            raise Refused(_REFUSED) from None
        except SQLAlchemyError as error:
            if isinstance(error, OperationalError):
                self._rest()
            log.error("database %s refused a transaction (%s)", self.safe_url, type(error).__name__)
            raise Unavailable(unavailable) from None

    def _rest(self) -> None:
        self._resting_until = self._clock() + BACKOFF_SECONDS

    def _resting(self) -> bool:
        return self._clock() < self._resting_until


_DATABASES: weakref.WeakSet[Database] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """Forget the pooled connections the parent opened, without closing them (they are the parent's): two processes
    on one connection would mix their statements. The child connects afresh when it first needs to."""
    for database in list(_DATABASES):
        database.engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def _sqlite_file_lock(url: URL) -> Iterator[None]:
    """An exclusive lock on ``<file>.migration-lock`` for an SQLite file (nothing for other databases). The database
    file itself is not locked this way: closing another handle on it would drop SQLite's own locks."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    with open(f"{url.database}.migration-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _engine(url: Any) -> Engine:
    """Parameters are never written into error messages: they hold clinicians' comments and patient hashes."""
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, hide_parameters=True, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    )


def _sqlite_pragmas(connection: Any, record: object) -> None:
    """WAL lets readers run beside the one writer; several threads posting feedback then queue, not fail."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
