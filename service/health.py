"""Liveness and readiness, cheap and unauthenticated, for probes and load balancers.

``/healthz`` says only that the process answers. ``/readyz`` runs the app's named readiness checks: the knowledge
base is always one; other parts (a database, a cache) add theirs with ``add_readiness_check`` when they are
configured, so readiness grows with the deployment without this module knowing about them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify

from service.failures import NotReady
from service.runtime import runtime

READINESS = "ketamine_cds.readiness"

Check = Callable[[], None]
"""Returns when the dependency is usable; raises (``NotReady`` with a reason, or any error) when it is not."""

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


def add_readiness_check(app: Flask, name: str, check: Check) -> None:
    """Register a readiness check; ``/readyz`` answers 503 while any check fails. A name is registered once."""
    checks = app.extensions.setdefault(READINESS, {})
    if name in checks:
        raise ValueError(f"a readiness check named {name!r} is already registered")
    checks[name] = check


def readiness_checks(app: Flask) -> dict[str, Check]:
    return dict(app.extensions.get(READINESS, {}))


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    results = {name: run_check(name, check) for name, check in readiness_checks(current_app).items()}
    ready = all(result["status"] == "ok" for result in results.values())
    response = jsonify({"status": "ready" if ready else "not ready", "checks": results})
    response.status_code = 200 if ready else 503
    return response


def run_check(name: str, check: Check) -> dict[str, str]:
    """``{"status": "ok"}``, or failed with a reason safe to show (a NotReady's words, else the error's type)."""
    try:
        check()
    except NotReady as problem:
        log.warning("readiness check %s failed: %s", name, problem)
        return {"status": "failed", "reason": str(problem)}
    except Exception as error:
        log.warning("readiness check %s failed: %s", name, error, exc_info=True)
        return {"status": "failed", "reason": type(error).__name__}
    return {"status": "ok"}


def knowledge_loaded() -> None:
    if not runtime().knowledge.rules:
        raise NotReady("the knowledge base holds no rules")


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
    add_readiness_check(app, "knowledge", knowledge_loaded)
