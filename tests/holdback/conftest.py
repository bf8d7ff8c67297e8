"""Apps that hold findings back, as workers of one deployment: one SQLite database, and one real Redis for the
tests that take the ``redis_url`` fixture."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service import create_app
from service.config import Settings
from service.storage import storage
from tests.conftest import NOW


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """An app (a worker) with these settings over one SQLite database shared by every app of the test."""
    apps: list[Flask] = []

    def make(**settings: Any) -> Flask:
        settings.setdefault("database_url", f"sqlite:///{tmp_path}/cds.sqlite3")
        settings.setdefault("patient_hash_key", "k" * 32)
        app = create_app(Settings(**settings), clock=lambda: NOW)
        apps.append(app)
        return app

    yield make
    for app in apps:
        storage(app).database.engine.dispose()


@pytest.fixture
def session() -> str:
    """A user of its own per test, so that what one test's order-select showed (in the shared Redis) is no other
    test's."""
    return f"Practitioner/{uuid.uuid4().hex}"
