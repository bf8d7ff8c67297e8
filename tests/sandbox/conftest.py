"""The sandbox FHIR server for integration tests: started once per session on a free loopback port, seeded with
the fixture patients, stopped at the end. Without Node or the sandbox's npm packages these tests skip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.config import Settings
from service.fhir.sandbox import FhirSandbox, SandboxUnavailable, seed_bundle
from tests.conftest import NOW

SANDBOX_TOKEN = "sandbox-token-7d2e"


def _started(**options: Any) -> FhirSandbox:
    sandbox = FhirSandbox(seed=seed_bundle(), **options)
    try:
        sandbox.start()
    except SandboxUnavailable as reason:
        pytest.skip(f"no sandbox FHIR server: {reason}")
    return sandbox


@pytest.fixture(scope="session")
def fhir_sandbox() -> Iterator[FhirSandbox]:
    """Logs each request (``log_file``)."""
    sandbox = _started(log_requests=True)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="session")
def strict_sandbox() -> Iterator[FhirSandbox]:
    """Pages of two entries, and a bearer token required for everything but /metadata."""
    sandbox = _started(page_size=2, token=SANDBOX_TOKEN)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def service_client() -> FlaskClient:
    """The service with a time budget generous enough for a busy test machine (the tests time nothing)."""
    return create_app(Settings(fhir_timeout_seconds=10), clock=lambda: NOW).test_client()
