"""Apps that hold findings back: two workers sharing one real Redis (``CDS_TEST_REDIS_URL``, default the machine's
Redis on 127.0.0.1:6379; the tests that need it skip, saying why, when it cannot be reached)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from service import create_app
from service.config import Settings
from service.storage import storage
from tests.conftest import NOW

REDIS_URL = os.environ.get("CDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(error).__name__})")
    return REDIS_URL


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
