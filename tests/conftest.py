"""Shared fixtures: the app on embedded defaults with a fixed clock, its test client, and the fixture files."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.knowledge import DATA_DIR, KnowledgeBase, load_knowledge
from service import create_app
from service.config import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
"""The clock every test runs at, so washout windows in the fixtures do not drift."""


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the packaged knowledge base, to change as a test (or a new release) would."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


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


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright, one for the whole session; without chromium (``make browser-deps``
    installs it where it can) the tests that use it skip and say why."""
    path = chromium_path()
    if path is None:
        pytest.skip("Debian's chromium is not installed (`make browser-deps` installs it when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # chromium refuses its sandbox to root
        launched = playwright.chromium.launch(executable_path=path, args=args)
        yield launched
        launched.close()
