"""The database as a readiness check: /readyz names it when it cannot be reached, and asks nothing while it rests."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from service import create_app
from service.config import Settings
from service.failures import NotReady, Unavailable
from service.storage import storage
from service.storage.database import BACKOFF_SECONDS, Database
from tests.auth.auth_helpers import Clock
from tests.scrape import closed_port


def test_readiness_passes_with_the_database_answering(db_app):
    response = db_app.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.json["checks"]["database"] == {"status": "ok"}


def test_readiness_fails_naming_the_database_while_it_cannot_be_reached():
    app = create_app(Settings(database_url=f"postgresql://cds:secret@127.0.0.1:{closed_port()}/test"))

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json["checks"]["database"]["status"] == "failed"
    assert "database" in response.json["checks"]["database"]["reason"]
    assert response.json["checks"]["knowledge"] == {"status": "ok"}
    assert "secret" not in response.get_data(as_text=True)
    storage(app).database.engine.dispose()


def test_a_database_resting_after_a_failure_is_not_asked_and_one_back_is_ready_again(tmp_path):
    clock, attempts = Clock(), []
    database = Database(f"sqlite:///{tmp_path}/cds.sqlite3", clock=clock)
    (tmp_path / "cds.sqlite3").mkdir()  # SQLite cannot open a folder: the database is down
    event.listen(database.engine, "do_connect", lambda *args: attempts.append(clock.now))

    for _ in range(3):
        with pytest.raises(NotReady):
            database.ping()
    (tmp_path / "cds.sqlite3").rmdir()
    clock.now += BACKOFF_SECONDS
    database.ping()

    assert attempts[0] == 1000.0
    assert all(moment == 1000.0 + BACKOFF_SECONDS for moment in attempts[1:])
    database.engine.dispose()


def test_a_failed_ping_makes_writes_fail_fast_too(tmp_path):
    clock, attempts = Clock(), []
    database = Database(f"sqlite:///{tmp_path}/cds.sqlite3", clock=clock)
    database.upgrade()
    database.engine.dispose()
    (tmp_path / "cds.sqlite3").unlink()
    (tmp_path / "cds.sqlite3").mkdir()
    event.listen(database.engine, "do_connect", lambda *args: attempts.append(clock.now))

    with pytest.raises(NotReady):
        database.ping()
    with pytest.raises(Unavailable), database.transaction():
        pass

    assert attempts == [1000.0]
    database.engine.dispose()
