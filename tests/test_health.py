"""Liveness and readiness: cheap, unauthenticated, and readiness made of named checks other parts can add."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.failures import NotReady
from service.health import add_readiness_check
from service.runtime import EXTENSION, runtime


def test_liveness_answers_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readiness_with_embedded_defaults_is_the_knowledge_base_loaded_and_the_sqlite_file_answering(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"knowledge": {"status": "ok"}, "database": {"status": "ok"}}}


def test_a_registered_check_that_passes_is_listed(app, client):
    add_readiness_check(app, "terminology-server", lambda: None)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json["checks"]["terminology-server"] == {"status": "ok"}


def test_a_failing_check_makes_the_service_not_ready_and_says_why(app, client):
    def redis_down() -> None:
        raise NotReady("Redis does not answer")

    add_readiness_check(app, "redis", redis_down)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json["status"] == "not ready"
    assert response.json["checks"]["redis"] == {"status": "failed", "reason": "Redis does not answer"}
    assert response.json["checks"]["knowledge"] == {"status": "ok"}


def test_an_unexpected_error_in_a_check_shows_only_its_kind_not_its_message(app, client):
    def server_down() -> None:
        raise ConnectionError("connection to db.internal:5432 refused for user cds")

    add_readiness_check(app, "terminology-server", server_down)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json["checks"]["terminology-server"] == {"status": "failed", "reason": "ConnectionError"}
    assert "db.internal" not in response.get_data(as_text=True)


def test_a_knowledge_base_without_rules_is_not_ready(app, client):
    state = runtime(app)
    app.extensions[EXTENSION] = replace(state, knowledge=replace(state.knowledge, rules=()))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json["checks"]["knowledge"]["reason"] == "the knowledge base holds no rules"


def test_a_check_name_is_registered_once(app):
    with pytest.raises(ValueError, match="database"):
        add_readiness_check(app, "database", lambda: None)


def test_health_endpoints_refuse_other_methods_with_an_operation_outcome(client):
    response = client.post("/readyz")

    assert response.status_code == 405
    assert response.json["resourceType"] == "OperationOutcome"
