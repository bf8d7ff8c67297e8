"""Shared fixtures: the app on embedded defaults with a fixed clock, its test client, and the fixture files; and
the guard that keeps the checkout as the suite found it."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from sqlalchemy import Table, select

from cds_hooks.knowledge import DATA_DIR, KnowledgeBase, load_knowledge
from service import create_app
from service.config import Settings
from service.storage import recorder, storage

settings.register_profile(
    "default", max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
"""Property-based tests run a bounded number of examples in the suite; ``make fuzz`` runs them at length. No
example database: a test run leaves nothing behind in the checkout."""

CHECKOUT = Path(__file__).resolve().parent.parent
FIXTURES = CHECKOUT / "fixtures"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
"""The clock every test runs at, so washout windows in the fixtures do not drift."""
REDIS_URL = os.environ.get("CDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


_OUTSIDE_THE_SOURCES = frozenset({".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache",
                                   ".hypothesis", "ketamine_cds.egg-info"})


def _checkout_files() -> dict[str, tuple[int, int]]:
    """Every file of the checkout (outside the virtual environment, packages and caches), with size and time."""
    found = {}
    for folder, folders, files in os.walk(CHECKOUT):
        folders[:] = [name for name in folders if name not in _OUTSIDE_THE_SOURCES]
        for name in files:
            path = Path(folder, name)
            stat = path.stat()
            found[str(path.relative_to(CHECKOUT))] = (stat.st_size, stat.st_mtime_ns)
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = _checkout_files()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite fails when it wrote into the checkout (a database under var/, say): tests write only in
    temporary folders, so a developer's own data and a clean clone stay as they were."""
    before = session.config.stash.get(_BEFORE, None)
    if before is None:
        return
    after = _checkout_files()
    changed = sorted(path for path in after.keys() | before.keys() if after.get(path) != before.get(path))
    if changed:
        session.config.get_terminal_writer().line(
            "The tests wrote into the checkout (tests must write only in temporary folders): " + ", ".join(changed),
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[dict[str, tuple[int, int]]]()


@pytest.fixture(scope="session", autouse=True)
def _away_from_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test runs in a temporary working directory, with no database or Redis named by the environment: an
    app built on the embedded defaults keeps its SQLite file there, never in the developer's var/ or database."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        for name in ("DATABASE_URL", "REDIS_URL"):
            patch.delenv(name, raising=False)
        yield


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
