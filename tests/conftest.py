"""Shared fixtures: the app on embedded defaults with a fixed clock, its test client, and the fixture files."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, select

from cds_hooks.knowledge import DATA_DIR, KnowledgeBase, load_knowledge
from service import create_app
from service.config import Settings
from service.storage import recorder, storage

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
"""The clock every test runs at, so washout windows in the fixtures do not drift."""
REDIS_URL = os.environ.get("CDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(Settings(database_url=f"sqlite:///{tmp_path}/cds.sqlite3"), clock=lambda: NOW)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def fixture() -> Callable[[str], dict[str, Any]]:
    """Load a hook request from fixtures/ by name (without .json), as a fresh dict each time."""

    def load(name: str) -> dict[str, Any]:
        return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))

    return load


@pytest.fixture
def rows() -> Callable[[Flask, Table], list[dict[str, Any]]]:
    """Every row of a table in an app's database, as dicts."""

    def read(app: Flask, table: Table) -> list[dict[str, Any]]:
        recorder.recorder(app).flush()
        with storage(app).database.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(table))]

    return read


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The machine's Redis (``CDS_TEST_REDIS_URL``); the tests that need it skip, saying why, without it."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(error).__name__})")
    return REDIS_URL


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the packaged knowledge base that a test may edit."""
    return Path(shutil.copytree(DATA_DIR, tmp_path / "data"))
