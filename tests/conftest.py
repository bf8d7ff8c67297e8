"""Shared fixtures: the app on embedded defaults with a fixed clock, its test client, and the fixture files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from cds_hooks.knowledge import KnowledgeBase, load_knowledge
from service import create_app
from service.config import Settings

settings.register_profile(
    "default", max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
"""Property-based tests run a bounded number of examples in the suite; ``make fuzz`` runs them at length. No
example database: a test run leaves nothing behind in the checkout."""

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
