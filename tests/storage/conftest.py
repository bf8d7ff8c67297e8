"""Databases for the storage and feedback tests: an SQLite file, and PostgreSQL in a schema of its own per test.

PostgreSQL is the machine's (``CDS_TEST_POSTGRES_URL``, default the trust-auth server on 127.0.0.1:5432, database
``test``); its tests skip, saying why, when it cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from service import create_app
from service.config import Settings
from service.storage import storage

POSTGRES_URL = os.environ.get("CDS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PATIENT_KEY = "p" * 32
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/cds.sqlite3"
        return
    admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
    schema = f"cds_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL} ({type(error.orig).__name__})")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def patient_key() -> str:
    return PATIENT_KEY


@pytest.fixture
def db_app(database_url: str) -> Iterator[Flask]:
    app = create_app(Settings(database_url=database_url, patient_hash_key=PATIENT_KEY), clock=lambda: NOW)
    yield app
    storage(app).database.engine.dispose()


@pytest.fixture
def feedback_item() -> Callable[..., dict[str, Any]]:
    def item(card: str | None = None, outcome: str = "overridden", **fields: Any) -> dict[str, Any]:
        body = {"card": card or str(uuid.uuid4()), "outcome": outcome, "outcomeTimestamp": "2026-11-21T12:05:00Z"}
        if outcome == "accepted":
            body["acceptedSuggestions"] = [{"id": "s-1"}]
        return body | fields

    return item
