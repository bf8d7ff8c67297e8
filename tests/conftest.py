"""Shared fixtures: the app on embedded defaults with a fixed clock, its test client, and the fixture files."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, select

from cds_hooks.knowledge import KnowledgeBase, load_knowledge
from service import create_app
from service.config import Settings
from service.storage import recorder, storage

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
"""The clock every test runs at, so washout windows in the fixtures do not drift."""


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
